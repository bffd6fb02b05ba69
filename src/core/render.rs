//! One renderer per [`Route`]: the reply text (from `intents/`, `rules/` and
//! `dictionaries/dialogue.toml`), its choices, and the state the route leaves behind.
//! Every route takes in the message's facts first, so the case file grows whatever
//! the route (urgent turns and side questions included).

use chrono::{DateTime, FixedOffset};

use super::assessment::render_ja;
use super::case::{has_incident, Check};
use super::dialogue::{with_source, Bot, OFFER_HUMAN_AFTER};
use super::hours::{self, HOTLINE, OFFICIAL_URL};
use super::interview::{self, Slot, SlotAnswer, Step, START_VALUE};
use super::label::Label;
use super::route::{AssessMove, BadInput, Route, Turn};
use super::turn::{Choice, ConversationState, EscalationReason, Reply, ReplyKind, Topic};
use super::wording::fill;

fn reply(kind: ReplyKind, intent: Label, confidence: f32, text: String) -> Reply {
    Reply {
        text,
        intent,
        confidence,
        urgent: false,
        kind,
        choices: Vec::new(),
        escalate: None,
        sources: vec![OFFICIAL_URL.to_string()],
    }
}

impl Reply {
    /// Adds a notice (e.g. "only the first 2,000 characters were read") without ever
    /// pushing the hotline down: after the hotline paragraph of an urgent reply, else
    /// before the answer.
    pub fn add_notice(&mut self, notice: &str) {
        if self.urgent {
            let at = self.text.find("\n\n").unwrap_or(self.text.len());
            self.text.insert_str(at, &format!("\n\n{notice}"));
        } else {
            self.text = format!("{notice}\n\n{}", self.text);
        }
    }
}

impl Bot {
    /// Renders the route and leaves the state for the next message.
    pub fn render(
        &self,
        route: &Route,
        t: &Turn,
        st: &mut ConversationState,
        now: DateTime<FixedOffset>,
    ) -> Reply {
        if !matches!(route, Route::BadInput(_)) {
            st.case_file.absorb(t.said);
        }
        match *route {
            Route::BadInput(kind) => self.render_bad_input(kind),
            Route::Urgent => self.render_urgent(t, st, now),
            Route::StaffHandling => self.render_staff_handling(t),
            Route::Handoff(reason) => self.render_handoff(reason, t, st, now),
            Route::Assess(step) => self.render_assess(step, t, st, now),
            Route::FollowUp(label) => self.render_answer(label, ReplyKind::FollowUp, None, t, st),
            Route::Answer { intent, pending } => {
                self.render_answer(intent, ReplyKind::Answer, pending, t, st)
            }
            Route::Clarify { pending } => self.render_clarify(pending, t, st),
            Route::Fallback { foreign, pending } => self.render_fallback(foreign, pending, t, st),
        }
    }

    /// A template with the hotline number and whether it is open at `now`.
    fn fill_now(&self, template: &str, now: DateTime<FixedOffset>) -> String {
        fill(
            template,
            &[
                ("hotline", HOTLINE),
                ("status", &hours::status_sentence(now)),
            ],
        )
    }

    fn render_bad_input(&self, kind: BadInput) -> Reply {
        let tx = &self.wording.texts;
        let msg = match kind {
            BadInput::Empty => &tx.empty,
            BadInput::SymbolsOnly => &tx.symbols_only,
        };
        let mut r = reply(
            ReplyKind::BadInput,
            Label::OutOfScope,
            1.0,
            format!(
                "{msg}\n{}",
                fill(&tx.bad_input_hotline, &[("hotline", HOTLINE)])
            ),
        );
        r.sources.clear();
        r
    }

    /// Hotline first, by construction: the header is the first thing in the text.
    fn render_urgent(
        &self,
        t: &Turn,
        st: &mut ConversationState,
        now: DateTime<FixedOffset>,
    ) -> Reply {
        let tx = &self.wording.texts;
        st.offered_human = false;
        st.low_confidence_streak = 0;
        st.topic = Some(Topic {
            intent: Label::Incident,
            facet: None,
            mentioned: Vec::new(),
        });
        let mut text = self.fill_now(&tx.urgent_header, now);
        if !matches!(hours::hotline_status(now), hours::HotlineStatus::Open) {
            text.push('\n');
            text.push_str(&tx.urgent_closed);
        }
        text.push('\n');
        text.push_str(&tx.urgent_prepare);
        text.push_str("\n\n");
        // the incident intent's answer (data) carries the first steps, marked as general
        // advice; its facets fit leaks and opened attachments more closely
        let def = self.intent(Label::Incident);
        let answer = self
            .facet_of(def, t.a)
            .map(|(_, f)| f.answer.as_str())
            .unwrap_or(&def.answer);
        text.push_str(&with_source(answer, &def.source_url));
        let mut choices = vec![Choice {
            label: tx.urgent_assess_choice.clone(),
            value: START_VALUE.into(),
        }];
        if let Some(slot) = st.case_file.pending() {
            text.push_str("\n\n");
            text.push_str(&fill(
                &tx.assess_resume,
                &[("question", self.question(slot))],
            ));
            choices.clear();
        }
        let intent = if t.c.intent == Label::OutOfScope {
            Label::Incident
        } else {
            t.c.intent
        };
        Reply {
            text,
            intent,
            confidence: t.c.confidence,
            urgent: true,
            kind: ReplyKind::Urgent,
            choices,
            escalate: Some(EscalationReason::Urgent),
            sources: vec![OFFICIAL_URL.to_string()],
        }
    }

    fn render_staff_handling(&self, t: &Turn) -> Reply {
        reply(
            ReplyKind::StaffHandling,
            t.c.intent,
            t.c.confidence,
            self.wording.texts.staff_handling.clone(),
        )
    }

    fn render_handoff(
        &self,
        reason: EscalationReason,
        t: &Turn,
        st: &mut ConversationState,
        now: DateTime<FixedOffset>,
    ) -> Reply {
        st.offered_human = false;
        st.low_confidence_streak = 0;
        st.topic = Some(Topic {
            intent: Label::Human,
            facet: None,
            mentioned: Vec::new(),
        });
        let def = self.intent(Label::Human);
        let text = match reason {
            // asked in their own words: the human intent's answer (data)
            EscalationReason::HumanRequest => {
                with_source(def.answer_for(t.a.text.as_str()), &def.source_url)
            }
            _ => self.fill_now(&self.wording.texts.handoff, now),
        };
        let mut r = reply(
            ReplyKind::Handoff,
            Label::Human,
            t.c.confidence.max(0.5),
            text,
        );
        r.escalate = Some(reason);
        r
    }

    /// The assessment of the member's case: one question at a time, or the verdict.
    fn render_assess(
        &self,
        mv: AssessMove,
        t: &Turn,
        st: &mut ConversationState,
        now: DateTime<FixedOffset>,
    ) -> Reply {
        let tx = &self.wording.texts;
        st.low_confidence_streak = 0;
        st.offered_human = false;
        st.topic = Some(Topic {
            intent: Label::Eligibility,
            facet: None,
            mentioned: Vec::new(),
        });
        let today = now.with_timezone(&hours::jst()).date_naive();
        let case = &mut st.case_file;
        let confidence = t.c.confidence.max(0.5);
        let first = match mv {
            AssessMove::Stop => {
                case.check = None;
                case.wants_assessment = false;
                st.topic = None;
                return reply(
                    ReplyKind::Assess,
                    Label::Eligibility,
                    1.0,
                    fill(&tx.assess_stopped, &[("hotline", HOTLINE)]),
                );
            }
            AssessMove::Reask(slot) => {
                let text = fill(&tx.assess_reask, &[("question", self.question(slot))]);
                let mut r = reply(ReplyKind::Assess, Label::Eligibility, confidence, text);
                r.choices = self.slot_choices(slot);
                return r;
            }
            AssessMove::Start => {
                case.wants_assessment = true;
                let fresh = case
                    .check
                    .as_ref()
                    .is_none_or(|c| c.verdict.is_some() || c.asking.is_none());
                if fresh {
                    case.check = Some(Check::default());
                }
                fresh
            }
            AssessMove::Continue(answer) => {
                let check = case.check.get_or_insert_with(Check::default);
                if let Some(slot) = check.asking {
                    let direct = interview::apply_answer(
                        &mut case.facts,
                        slot,
                        answer,
                        today,
                        self.rules.effective_from,
                    );
                    if direct || answer == SlotAnswer::Unsure {
                        interview::mark_asked(check);
                    }
                }
                false
            }
            AssessMove::Reassess => {
                case.check.get_or_insert_with(Check::default).asking = None;
                false
            }
        };
        let check = case.check.get_or_insert_with(Check::default);
        let step = interview::step(check, &case.facts, &self.rules);
        let mut text = String::new();
        let mut choices = Vec::new();
        match step {
            Step::Ask(slot) => {
                if first {
                    text.push_str(&tx.assess_intro);
                    text.push_str("\n\n");
                }
                text.push_str(self.question(slot));
                choices = self.slot_choices(slot);
            }
            Step::Verdict(a) => {
                text.push_str(&render_ja(&self.rules, &a));
                if !a.missing.is_empty() && a.eligible.is_none() {
                    text.push_str("\n\n");
                    text.push_str(&tx.assess_more);
                }
                text.push_str("\n\n");
                text.push_str(&tx.assess_correct);
            }
        }
        if has_incident(&t.said) && !t.c.urgent && t.c.intent == Label::Incident {
            // an incident told as past: the hotline as information, never as an alarm
            text.push_str("\n\n");
            text.push_str(&self.fill_now(&tx.past_incident_note, now));
        }
        let mut r = reply(ReplyKind::Assess, Label::Eligibility, confidence, text);
        r.choices = choices;
        r
    }

    /// The intent's answer (a facet when the message asks one), with related topics as
    /// choices; several questions in one message are offered after the first.
    fn render_answer(
        &self,
        label: Label,
        kind: ReplyKind,
        pending: Option<Slot>,
        t: &Turn,
        st: &mut ConversationState,
    ) -> Reply {
        st.low_confidence_streak = 0;
        st.offered_human = false;
        let questions = if kind == ReplyKind::Answer {
            self.questions_in(t.a)
        } else {
            Vec::new()
        };
        let (main, main_text) = match questions.first() {
            Some((l, seg)) if questions.len() >= 2 => (*l, *seg),
            _ => (label, t.a.text.as_str()),
        };
        let def = self.intent(main);
        let facet = if main_text == t.a.text.as_str() {
            self.facet_of(def, t.a)
        } else {
            def.facets
                .iter()
                .enumerate()
                .find(|(_, f)| f.keywords.iter().any(|k| main_text.contains(k.as_str())))
        };
        // a follow-up with no facet of its own stays on the facet it follows
        let facet = facet.or_else(|| {
            let prev = st
                .topic
                .as_ref()
                .filter(|p| kind == ReplyKind::FollowUp && p.intent == main)?;
            let id = prev.facet.as_deref()?;
            def.facets
                .iter()
                .enumerate()
                .find(|(_, f)| f.id.as_deref() == Some(id))
        });
        let answer = facet.map(|(_, f)| f.answer.as_str()).unwrap_or(&def.answer);
        if t.money && matches!(main, Label::Eligibility | Label::Coverage | Label::Claim) {
            // the member is interested in the payment: a case told next gets its assessment
            st.case_file.wants_assessment = true;
        }
        st.topic = Some(Topic {
            intent: main,
            facet: facet.and_then(|(_, f)| f.id.clone()),
            mentioned: Vec::new(),
        });
        let mut text = with_source(answer, &def.source_url);
        let mut choices: Vec<Choice> = def
            .related
            .iter()
            .filter(|l| l.is_programme_topic())
            .take(3)
            .map(|l| {
                let d = self.intent(*l);
                Choice {
                    label: d.title.clone(),
                    value: d.question.clone(),
                }
            })
            .collect();
        let others: Vec<Label> = questions
            .iter()
            .map(|(l, _)| *l)
            .filter(|l| *l != main)
            .collect();
        if !others.is_empty() {
            text.push_str("\n\n");
            text.push_str(&self.wording.texts.other_questions);
            let mut extra = Vec::new();
            for l in others {
                let d = self.intent(l);
                text.push_str(&format!("\n・{}", d.title));
                extra.push(Choice {
                    label: d.title.clone(),
                    value: d.question.clone(),
                });
            }
            extra.append(&mut choices);
            extra.dedup_by(|x, y| x.value == y.value);
            extra.truncate(4);
            choices = extra;
        }
        self.resume_line(&mut text, &mut choices, pending);
        let mut r = reply(kind, main, t.c.confidence, text);
        r.choices = choices;
        r.sources = vec![def.source_url.clone()];
        r
    }

    fn render_clarify(&self, pending: Option<Slot>, t: &Turn, st: &mut ConversationState) -> Reply {
        let tx = &self.wording.texts;
        let mut choices: Vec<Choice> =
            t.c.prediction
                .ranked
                .iter()
                .filter(|(l, _)| l.is_programme_topic())
                .take(3)
                .map(|(l, _)| {
                    let d = self.intent(*l);
                    Choice {
                        label: d.title.clone(),
                        value: d.question.clone(),
                    }
                })
                .collect();
        let mut text = tx.clarify.clone();
        for (i, ch) in choices.iter().enumerate() {
            text.push_str(&format!("\n{}. {}", i + 1, ch.label));
        }
        text.push_str("\n\n");
        text.push_str(&fill(&tx.clarify_none, &[("hotline", HOTLINE)]));
        self.resume_line(&mut text, &mut choices, pending);
        let mut r = reply(ReplyKind::Clarify, t.c.intent, t.c.confidence, text);
        r.choices = choices;
        self.unclear_turn(&mut r, st);
        r
    }

    fn render_fallback(
        &self,
        foreign: bool,
        pending: Option<Slot>,
        t: &Turn,
        st: &mut ConversationState,
    ) -> Reply {
        let def = self.intent(Label::OutOfScope);
        let mut text = String::new();
        if foreign {
            text.push_str(&self.wording.texts.foreign);
            text.push_str("\n\n");
        }
        text.push_str(&with_source(&def.answer, &def.source_url));
        let mut choices: Vec<Choice> = [Label::Overview, Label::Hotline, Label::Coverage]
            .iter()
            .map(|l| {
                let d = self.intent(*l);
                Choice {
                    label: d.title.clone(),
                    value: d.question.clone(),
                }
            })
            .collect();
        self.resume_line(&mut text, &mut choices, pending);
        let mut r = reply(ReplyKind::Fallback, Label::OutOfScope, t.c.confidence, text);
        r.choices = choices;
        r.sources = vec![def.source_url.clone()];
        self.unclear_turn(&mut r, st);
        r
    }

    /// A side question in the middle of the assessment: after the answer, the question
    /// still open (the assessment resumes with the member's next answer).
    fn resume_line(&self, text: &mut String, choices: &mut Vec<Choice>, pending: Option<Slot>) {
        if let Some(slot) = pending {
            text.push_str("\n\n");
            text.push_str(&fill(
                &self.wording.texts.assess_resume,
                &[("question", self.question(slot))],
            ));
            *choices = self.slot_choices(slot);
        }
    }

    /// Two unclear turns in a row: offer a person.
    fn unclear_turn(&self, r: &mut Reply, st: &mut ConversationState) {
        let tx = &self.wording.texts;
        st.low_confidence_streak = st.low_confidence_streak.saturating_add(1);
        if st.low_confidence_streak >= OFFER_HUMAN_AFTER {
            r.text.push_str("\n\n");
            r.text.push_str(&tx.offer_human);
            r.choices = vec![
                Choice {
                    label: tx.offer_human_yes.clone(),
                    value: "はい".into(),
                },
                Choice {
                    label: tx.offer_human_no.clone(),
                    value: "いいえ".into(),
                },
            ];
            st.offered_human = true;
        } else {
            st.offered_human = false;
        }
    }

    /// The question for a slot (data).
    pub fn question(&self, slot: Slot) -> &str {
        let tx = &self.wording.texts;
        match slot {
            Slot::Membership => &tx.ask_membership,
            Slot::IncidentKind => &tx.ask_incident_kind,
            Slot::IncidentDate => &tx.ask_incident_date,
            Slot::Closure => &tx.ask_closure,
        }
    }

    /// The quick replies for a slot (data).
    pub fn slot_choices(&self, slot: Slot) -> Vec<Choice> {
        let c = &self.wording.choices;
        let list = match slot {
            Slot::Membership => &c.membership,
            Slot::IncidentKind => &c.incident_kind,
            Slot::IncidentDate => &c.incident_date,
            Slot::Closure => &c.closure,
        };
        list.iter()
            .map(|v| Choice {
                label: v.clone(),
                value: v.clone(),
            })
            .collect()
    }
}
