//! Discord through serenity's gateway client: answers mentions, DMs and messages in
//! configured channels (in a thread), the `/madoguchi` slash command (deferred, so
//! the 3-second limit never bites) and choice buttons. Every message is sent with
//! allowed mentions empty. Escalations go to the staff channel as embeds with
//! Claim/Resolve buttons and a thread; a staff reply in that thread reaches the member.
//!
//! The mappings (message → route → `Inbound`, `Reply` → `CreateMessage`, escalation →
//! embed) are plain functions, unit-tested without a network.

use std::sync::{Arc, OnceLock};

use serenity::all::{
    ButtonStyle, ChannelId, ChannelType, Colour, Command, CommandInteraction, CommandOptionType,
    ComponentInteraction, Context, CreateActionRow, CreateAllowedMentions, CreateButton,
    CreateCommand, CreateCommandOption, CreateEmbed, CreateEmbedFooter, CreateInteractionResponse,
    CreateInteractionResponseFollowup, CreateInteractionResponseMessage, CreateMessage,
    CreateThread, EditInteractionResponse, EventHandler, GatewayIntents, GuildId, Http,
    Interaction, Message, MessageFlags, Ready, UserId,
};

use super::ratelimit::RATE_LIMITED_MESSAGE;
use super::staff::{staff_reply_text, DeliveryError, StaffChannel};
use super::{neutralize_mass_mentions, split_text, truncate_chars, Answer, Shared};
use super::{ChannelKind, Inbound};
use crate::config::DiscordConfig;
use crate::core::turn::Reply;
use crate::service::{Escalation, OutboxItem};

/// Discord's message content limit.
const CONTENT_MAX: usize = 2000;
const BUTTON_LABEL_MAX: usize = 80;
const CUSTOM_ID_MAX: usize = 100;
pub const CHOICE_PREFIX: &str = "mg:c:";
pub const CLAIM_PREFIX: &str = "mg:claim:";
pub const RESOLVE_PREFIX: &str = "mg:resolve:";
/// Conversations started with the slash command are answered ephemerally; staff
/// replies to them go to the member's DMs.
pub const SLASH_PREFIX: &str = "slash:";

/// Gateway intents madoguchi needs (MESSAGE_CONTENT is privileged: enable it in the
/// developer portal).
pub fn intents() -> GatewayIntents {
    GatewayIntents::GUILDS
        | GatewayIntents::GUILD_MESSAGES
        | GatewayIntents::DIRECT_MESSAGES
        | GatewayIntents::MESSAGE_CONTENT
}

/// No pings, ever: not @everyone/@here, not roles, not users, not the replied user.
pub fn no_mentions() -> CreateAllowedMentions {
    CreateAllowedMentions::new()
        .empty_users()
        .empty_roles()
        .everyone(false)
        .replied_user(false)
}

// ---------------------------------------------------------------------------------
// Messages → routes → Inbound

/// The parts of a Discord message the router looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageView {
    pub id: u64,
    pub author_id: u64,
    pub author_name: String,
    pub author_bot: bool,
    pub channel_id: u64,
    pub guild_id: Option<u64>,
    pub content: String,
    pub mentioned: Vec<u64>,
    pub is_webhook: bool,
}

impl MessageView {
    pub fn of(m: &Message) -> MessageView {
        MessageView {
            id: m.id.get(),
            author_id: m.author.id.get(),
            author_name: crate::redact::display_name(&m.author.name),
            author_bot: m.author.bot,
            channel_id: m.channel_id.get(),
            guild_id: m.guild_id.map(|g| g.get()),
            content: m.content.clone(),
            mentioned: m.mentions.iter().map(|u| u.id.get()).collect(),
            is_webhook: m.webhook_id.is_some(),
        }
    }
}

/// What we know about the channel a guild message was posted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    DirectMessage,
    Channel,
    Thread { parent_id: u64, owned_by_bot: bool },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Answer the member; `new_thread` = start a thread on the message first.
    Member {
        new_thread: bool,
    },
    /// A reply in an escalation's thread in the staff channel.
    StaffReply {
        thread_id: u64,
    },
    Ignore(&'static str),
}

/// Message → route: DMs always; in guilds when the bot is mentioned, in a configured
/// channel, or in a thread the bot started; staff-channel threads are staff replies.
pub fn route(m: &MessageView, place: Place, bot_id: u64, cfg: &DiscordConfig) -> Route {
    if m.author_bot || m.is_webhook || m.author_id == bot_id {
        return Route::Ignore("bot or webhook");
    }
    // the mentions list, or the mention token itself in the text
    let mentioned = m.mentioned.contains(&bot_id)
        || m.content.contains(&format!("<@{bot_id}>"))
        || m.content.contains(&format!("<@!{bot_id}>"));
    let staff = cfg.staff_channel_id;
    match place {
        Place::DirectMessage => Route::Member { new_thread: false },
        Place::Thread { parent_id, .. } if Some(parent_id) == staff => Route::StaffReply {
            thread_id: m.channel_id,
        },
        Place::Channel if Some(m.channel_id) == staff => {
            Route::Ignore("top-level staff channel message")
        }
        Place::Thread {
            parent_id,
            owned_by_bot,
        } => {
            if owned_by_bot || mentioned || cfg.channel_ids.contains(&parent_id) {
                Route::Member { new_thread: false }
            } else {
                Route::Ignore("thread not ours")
            }
        }
        Place::Channel => {
            if mentioned || cfg.channel_ids.contains(&m.channel_id) {
                Route::Member { new_thread: true }
            } else {
                Route::Ignore("not mentioned, not a configured channel")
            }
        }
    }
}

/// Removes `<@id>` / `<@!id>` mentions of the bot and trims.
pub fn strip_bot_mention(content: &str, bot_id: u64) -> String {
    content
        .replace(&format!("<@{bot_id}>"), "")
        .replace(&format!("<@!{bot_id}>"), "")
        .trim()
        .to_string()
}

/// The member's message as an [`Inbound`]; `conversation` is where the answer goes
/// (the thread or DM channel id).
pub fn inbound(m: &MessageView, bot_id: u64, conversation: u64) -> Inbound {
    Inbound {
        channel: ChannelKind::Discord,
        user: m.author_id.to_string(),
        conversation: conversation.to_string(),
        text: strip_bot_mention(&m.content, bot_id),
    }
}

/// A thread name for a member's question (Discord allows 100 characters).
pub fn thread_name(content: &str) -> String {
    let t: String = content
        .split_whitespace()
        .filter(|w| !w.starts_with("<@"))
        .collect::<Vec<_>>()
        .join(" ");
    let t = truncate_chars(t.trim(), 60);
    if t.is_empty() {
        "madoguchi へのご質問".to_string()
    } else {
        format!("ご質問: {t}")
    }
}

/// The slash command's `question` option.
pub fn command_text(c: &CommandInteraction) -> String {
    c.data
        .options
        .iter()
        .find(|o| o.name == "question")
        .and_then(|o| o.value.as_str())
        .unwrap_or("")
        .trim()
        .to_string()
}

/// `/madoguchi question:…`.
pub fn slash_command() -> CreateCommand {
    CreateCommand::new("madoguchi")
        .description("日本医師会サイバーセキュリティ支援制度について質問する")
        .add_option(
            CreateCommandOption::new(
                CommandOptionType::String,
                "question",
                "ご質問（例: 支援金の対象は？）",
            )
            .required(true)
            .max_length(1000),
        )
        .dm_permission(true)
}

// ---------------------------------------------------------------------------------
// Reply → Discord

/// Choice buttons: the custom id carries the value sent back as the next message.
pub fn choice_rows(reply: &Reply) -> Vec<CreateActionRow> {
    if reply.choices.is_empty() {
        return Vec::new();
    }
    let buttons: Vec<CreateButton> = reply
        .choices
        .iter()
        .take(5)
        .map(|c| {
            let id = truncate_custom_id(&format!("{CHOICE_PREFIX}{}", c.value));
            CreateButton::new(id)
                .label(truncate_chars(&c.label, BUTTON_LABEL_MAX))
                .style(ButtonStyle::Secondary)
        })
        .collect();
    vec![CreateActionRow::Buttons(buttons)]
}

fn truncate_custom_id(id: &str) -> String {
    // the limit is in characters; keep whole characters
    id.chars().take(CUSTOM_ID_MAX).collect()
}

/// Reply → messages (split at 2000 characters; buttons on the last), each with
/// allowed mentions empty and mass mentions defused in the text.
pub fn reply_messages(reply: &Reply) -> Vec<CreateMessage> {
    let text = neutralize_mass_mentions(&reply.text);
    let parts = split_text(&text, CONTENT_MAX);
    let n = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let m = CreateMessage::new()
                .content(p)
                .allowed_mentions(no_mentions());
            if i + 1 == n {
                m.components(choice_rows(reply))
            } else {
                m
            }
        })
        .collect()
}

pub fn text_message(text: &str) -> CreateMessage {
    CreateMessage::new()
        .content(truncate_chars(&neutralize_mass_mentions(text), CONTENT_MAX))
        .allowed_mentions(no_mentions())
}

/// The staff-channel embed for an escalation, with Claim/Resolve buttons.
pub fn escalation_message(e: &Escalation) -> CreateMessage {
    let (title, colour) = match e.reason.as_str() {
        "urgent" => ("至急: インシデント発生中の可能性", Colour::RED),
        "human_request" => ("担当者との会話を希望", Colour::ORANGE),
        _ => ("自動応答で解決できず担当者を希望", Colour::GOLD),
    };
    let body = neutralize_mass_mentions(&truncate_chars(&e.text, 3500));
    let embed = CreateEmbed::new()
        .title(format!("#{} {title}", e.id))
        .description(if body.trim().is_empty() {
            "（本文なし）".to_string()
        } else {
            body
        })
        .colour(colour)
        .field("チャネル", e.channel.as_str(), true)
        .field("利用者", truncate_chars(&e.user, 100), true)
        .field("理由", e.reason.as_str(), true)
        .footer(CreateEmbedFooter::new(
            "このメッセージのスレッドに返信すると、利用者に届きます。",
        ));
    let buttons = vec![
        CreateButton::new(format!("{CLAIM_PREFIX}{}", e.id))
            .label("担当する (Claim)")
            .style(ButtonStyle::Primary),
        CreateButton::new(format!("{RESOLVE_PREFIX}{}", e.id))
            .label("解決済みにする (Resolve)")
            .style(ButtonStyle::Success),
    ];
    CreateMessage::new()
        .embed(embed)
        .components(vec![CreateActionRow::Buttons(buttons)])
        .allowed_mentions(no_mentions())
}

pub fn staff_ref(message_id: u64) -> String {
    format!("discord:{message_id}")
}

/// A button's custom id → what it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ButtonAct {
    Choice(String),
    Claim(i64),
    Resolve(i64),
    Unknown,
}

pub fn parse_custom_id(id: &str) -> ButtonAct {
    if let Some(v) = id.strip_prefix(CHOICE_PREFIX) {
        return if v.trim().is_empty() {
            ButtonAct::Unknown
        } else {
            ButtonAct::Choice(v.to_string())
        };
    }
    if let Some(n) = id.strip_prefix(CLAIM_PREFIX).and_then(|n| n.parse().ok()) {
        return ButtonAct::Claim(n);
    }
    if let Some(n) = id.strip_prefix(RESOLVE_PREFIX).and_then(|n| n.parse().ok()) {
        return ButtonAct::Resolve(n);
    }
    ButtonAct::Unknown
}

// ---------------------------------------------------------------------------------
// The gateway handler

pub struct Handler {
    shared: Shared,
    cfg: DiscordConfig,
    bot_id: OnceLock<u64>,
}

impl Handler {
    pub fn new(shared: Shared, cfg: DiscordConfig) -> Handler {
        Handler {
            shared,
            cfg,
            bot_id: OnceLock::new(),
        }
    }

    async fn place(&self, ctx: &Context, m: &Message) -> Place {
        if m.guild_id.is_none() {
            return Place::DirectMessage;
        }
        match m.channel_id.to_channel(ctx).await {
            Ok(serenity::all::Channel::Guild(gc))
                if matches!(
                    gc.kind,
                    ChannelType::PublicThread | ChannelType::PrivateThread
                ) =>
            {
                Place::Thread {
                    parent_id: gc.parent_id.map(|p| p.get()).unwrap_or(0),
                    owned_by_bot: gc.owner_id.map(|o| o.get()) == self.bot_id.get().copied(),
                }
            }
            Ok(serenity::all::Channel::Private(_)) => Place::DirectMessage,
            _ => Place::Channel,
        }
    }

    async fn on_message(&self, ctx: Context, msg: Message) {
        let Some(&bot_id) = self.bot_id.get() else {
            return;
        };
        let view = MessageView::of(&msg);
        if view.author_bot || view.author_id == bot_id {
            return; // before any HTTP lookup
        }
        let place = self.place(&ctx, &msg).await;
        match route(&view, place, bot_id, &self.cfg) {
            Route::Ignore(_) => {}
            Route::StaffReply { thread_id } => self.staff_reply(&ctx, &msg, thread_id).await,
            Route::Member { new_thread } => {
                let mut reply_in = msg.channel_id;
                if new_thread {
                    match msg
                        .channel_id
                        .create_thread_from_message(
                            &ctx,
                            msg.id,
                            CreateThread::new(thread_name(&view.content))
                                .auto_archive_duration(serenity::all::AutoArchiveDuration::OneDay),
                        )
                        .await
                    {
                        Ok(t) => reply_in = t.id,
                        Err(e) => {
                            tracing::warn!(error = %e, "could not start a thread; answering in the channel")
                        }
                    }
                }
                let _ = reply_in.broadcast_typing(&ctx).await;
                let inbound = inbound(&view, bot_id, reply_in.get());
                let text = match self.shared.answer(inbound).await {
                    Answer::Reply(o) => {
                        send_all(&ctx.http, reply_in, reply_messages(&o.reply), &self.shared).await;
                        return;
                    }
                    Answer::Limited { notify: true } => RATE_LIMITED_MESSAGE,
                    Answer::Limited { notify: false } => return,
                };
                send_all(&ctx.http, reply_in, vec![text_message(text)], &self.shared).await;
            }
        }
    }

    async fn staff_reply(&self, ctx: &Context, msg: &Message, thread_id: u64) {
        let service = &self.shared.service;
        let text = msg.content.trim();
        if text.is_empty() {
            return;
        }
        // a thread started on a message has the message's id
        let esc = match service.escalation_by_staff_ref(&staff_ref(thread_id)).await {
            Ok(Some(e)) => e,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "escalation lookup failed");
                return;
            }
        };
        // the user id: the same identity the Claim button records
        let staff = self
            .shared
            .staff_actor(ChannelKind::Discord, &msg.author.id.get().to_string())
            .await;
        let notice = match service.staff_reply(esc.id, &staff, text).await {
            Ok(_) => {
                self.shared.wake.notify_one();
                let _ = msg.react(ctx, '✅').await;
                return;
            }
            Err(e) => format!("送信できませんでした: {e}"),
        };
        send_all(
            &ctx.http,
            msg.channel_id,
            vec![text_message(&notice)],
            &self.shared,
        )
        .await;
    }

    async fn on_command(&self, ctx: Context, cmd: CommandInteraction) {
        if cmd.data.name != "madoguchi" {
            return;
        }
        // always defer: the answer (and the database) may take longer than 3 seconds
        let defer = CreateInteractionResponse::Defer(
            CreateInteractionResponseMessage::new().ephemeral(true),
        );
        if let Err(e) = cmd.create_response(&ctx, defer).await {
            tracing::warn!(error = %e, "could not defer a slash command");
            return;
        }
        let inbound = Inbound {
            channel: ChannelKind::Discord,
            user: cmd.user.id.get().to_string(),
            conversation: format!("{SLASH_PREFIX}{}", cmd.channel_id.get()),
            text: command_text(&cmd),
        };
        let edit = match self.shared.answer(inbound).await {
            Answer::Reply(o) => {
                let text = neutralize_mass_mentions(&o.reply.text);
                let mut parts = split_text(&text, CONTENT_MAX).into_iter();
                let first = parts.next().unwrap_or_default();
                let edit = EditInteractionResponse::new()
                    .content(first)
                    .allowed_mentions(no_mentions())
                    .components(choice_rows(&o.reply));
                if let Err(e) = cmd.edit_response(&ctx, edit).await {
                    tracing::warn!(error = %e, "could not answer a slash command");
                }
                for p in parts {
                    let f = CreateInteractionResponseFollowup::new()
                        .content(p)
                        .ephemeral(true)
                        .allowed_mentions(no_mentions());
                    let _ = cmd.create_followup(&ctx, f).await;
                }
                return;
            }
            Answer::Limited { .. } => EditInteractionResponse::new()
                .content(RATE_LIMITED_MESSAGE)
                .allowed_mentions(no_mentions()),
        };
        let _ = cmd.edit_response(&ctx, edit).await;
    }

    async fn on_component(&self, ctx: Context, c: ComponentInteraction) {
        match parse_custom_id(&c.data.custom_id) {
            ButtonAct::Unknown => {}
            ButtonAct::Choice(value) => {
                let ephemeral = c
                    .message
                    .flags
                    .map(|f| f.contains(MessageFlags::EPHEMERAL))
                    .unwrap_or(false);
                let defer = if ephemeral {
                    CreateInteractionResponse::Defer(
                        CreateInteractionResponseMessage::new().ephemeral(true),
                    )
                } else {
                    CreateInteractionResponse::Acknowledge
                };
                if let Err(e) = c.create_response(&ctx, defer).await {
                    tracing::warn!(error = %e, "could not acknowledge a button");
                    return;
                }
                let conversation = if ephemeral {
                    format!("{SLASH_PREFIX}{}", c.channel_id.get())
                } else {
                    c.channel_id.get().to_string()
                };
                let inbound = Inbound {
                    channel: ChannelKind::Discord,
                    user: c.user.id.get().to_string(),
                    conversation,
                    text: value,
                };
                let answer = self.shared.answer(inbound).await;
                let reply = match &answer {
                    Answer::Reply(o) => Some(&o.reply),
                    Answer::Limited { notify: false } => return,
                    Answer::Limited { notify: true } => None,
                };
                if ephemeral {
                    let text = reply
                        .map(|r| neutralize_mass_mentions(&r.text))
                        .unwrap_or_else(|| RATE_LIMITED_MESSAGE.to_string());
                    let mut f = CreateInteractionResponseFollowup::new()
                        .content(truncate_chars(&text, CONTENT_MAX))
                        .ephemeral(true)
                        .allowed_mentions(no_mentions());
                    if let Some(r) = reply {
                        f = f.components(choice_rows(r));
                    }
                    let _ = c.create_followup(&ctx, f).await;
                } else {
                    let msgs = match reply {
                        Some(r) => reply_messages(r),
                        None => vec![text_message(RATE_LIMITED_MESSAGE)],
                    };
                    send_all(&ctx.http, c.channel_id, msgs, &self.shared).await;
                }
            }
            act @ (ButtonAct::Claim(_) | ButtonAct::Resolve(_)) => {
                if Some(c.channel_id.get()) != self.cfg.staff_channel_id {
                    return;
                }
                let staff = self
                    .shared
                    .staff_actor(ChannelKind::Discord, &c.user.id.get().to_string())
                    .await;
                let display = crate::redact::display_name(&c.user.name);
                let text = match act {
                    ButtonAct::Claim(id) => match self.shared.service.claim(id, &staff).await {
                        Ok(_) => format!(
                            "#{id} は {display} さんが担当します。スレッドへの返信が利用者に届きます。"
                        ),
                        Err(e) => format!("#{id} を担当にできませんでした: {e}"),
                    },
                    ButtonAct::Resolve(id) => {
                        match self.shared.service.resolve(id, &staff, None).await {
                            Ok(_) => format!("#{id} は {display} さんが解決済みにしました。"),
                            Err(e) => format!("#{id} を解決済みにできませんでした: {e}"),
                        }
                    }
                    _ => unreachable!(),
                };
                let msg = CreateInteractionResponseMessage::new()
                    .content(neutralize_mass_mentions(&text))
                    .allowed_mentions(no_mentions());
                if let Err(e) = c
                    .create_response(&ctx, CreateInteractionResponse::Message(msg))
                    .await
                {
                    tracing::warn!(error = %e, "could not answer a staff button");
                }
            }
        }
    }
}

async fn send_all(http: &Http, channel: ChannelId, msgs: Vec<CreateMessage>, shared: &Shared) {
    for m in msgs {
        if let Err(e) = channel.send_message(http, m).await {
            shared
                .metrics
                .observe_delivery_failure(ChannelKind::Discord);
            tracing::error!(error = %e, "could not send a Discord message");
            return;
        }
    }
}

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn ready(&self, ctx: Context, ready: Ready) {
        let _ = self.bot_id.set(ready.user.id.get());
        tracing::info!(user = %crate::redact::display_name(&ready.user.name), "Discord gateway ready");
        let result = match self.cfg.guild_id {
            Some(g) => GuildId::new(g)
                .set_commands(&ctx.http, vec![slash_command()])
                .await
                .map(|_| ()),
            None => Command::set_global_commands(&ctx.http, vec![slash_command()])
                .await
                .map(|_| ()),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not register /madoguchi");
        }
    }

    async fn message(&self, ctx: Context, msg: Message) {
        // tracked, so a graceful shutdown waits for an answer already under way
        let this = self.clone_for_task();
        self.shared
            .tasks
            .spawn(async move { this.on_message(ctx, msg).await });
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        let this = self.clone_for_task();
        self.shared.tasks.spawn(async move {
            match interaction {
                Interaction::Command(c) => this.on_command(ctx, c).await,
                Interaction::Component(c) => this.on_component(ctx, c).await,
                _ => {}
            }
        });
    }
}

impl Handler {
    fn clone_for_task(&self) -> Arc<Handler> {
        let h = Handler {
            shared: self.shared.clone(),
            cfg: self.cfg.clone(),
            bot_id: OnceLock::new(),
        };
        if let Some(id) = self.bot_id.get() {
            let _ = h.bot_id.set(*id);
        }
        Arc::new(h)
    }
}

// ---------------------------------------------------------------------------------
// Background work: escalations → staff channel, staff replies → members

/// Discord as a staff channel: escalations posted to `DISCORD_STAFF_CHANNEL_ID` as an
/// embed with Claim/Resolve buttons and a thread; staff replies pushed to the member's
/// thread or DM channel (slash-command conversations: the member's DMs).
pub struct DiscordStaff {
    pub http: Arc<Http>,
    pub cfg: DiscordConfig,
}

#[serenity::async_trait]
impl StaffChannel for DiscordStaff {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Discord
    }

    fn has_staff_room(&self) -> bool {
        self.cfg.staff_channel_id.is_some()
    }

    fn pushes_replies(&self) -> bool {
        true
    }

    async fn post_escalation(&self, e: &Escalation) -> Result<String, DeliveryError> {
        let staff = self
            .cfg
            .staff_channel_id
            .ok_or_else(|| DeliveryError::new("no DISCORD_STAFF_CHANNEL_ID"))?;
        let channel = ChannelId::new(staff);
        let m = channel
            .send_message(&self.http, escalation_message(e))
            .await
            .map_err(DeliveryError::new)?;
        let name = format!(
            "#{} {}",
            e.id,
            truncate_chars(&e.text.replace('\n', " "), 60)
        );
        if let Err(err) = channel
            .create_thread_from_message(&self.http, m.id, CreateThread::new(name))
            .await
        {
            tracing::warn!(error = %err, id = e.id, "could not open the escalation thread");
        }
        Ok(staff_ref(m.id.get()))
    }

    async fn deliver(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        let channel = match outbox_target(item) {
            Some(Ok(c)) => ChannelId::new(c),
            Some(Err(user)) => {
                UserId::new(user)
                    .create_dm_channel(&self.http)
                    .await
                    .map_err(DeliveryError::new)?
                    .id
            }
            None => {
                return Err(DeliveryError::new(format!(
                    "undeliverable Discord outbox item {} (bad conversation id)",
                    item.id
                )))
            }
        };
        channel
            .send_message(&self.http, text_message(&staff_reply_text(&item.text)))
            .await
            .map(|_| ())
            .map_err(DeliveryError::new)
    }
}

/// Where a staff reply for `item` goes: its thread / DM channel, or the member's DMs
/// for slash-command conversations.
pub fn outbox_target(item: &OutboxItem) -> Option<Result<u64, u64>> {
    if item.conversation.starts_with(SLASH_PREFIX) {
        return item.user.parse().ok().map(Err);
    }
    item.conversation.parse().ok().map(Ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use crate::core::label::Label;
    use crate::core::turn::{Choice, ReplyKind};
    use serde_json::{json, Value};

    const BOT: u64 = 900;

    fn cfg() -> DiscordConfig {
        DiscordConfig {
            token: Secret::new("t"),
            staff_channel_id: Some(500),
            channel_ids: vec![42],
            guild_id: None,
            api_base: None,
        }
    }

    fn message_json(content: &str, guild: bool, mentions_bot: bool, bot_author: bool) -> Value {
        let mut v = json!({
            "id": "1001", "channel_id": "77",
            "author": {"id": "123", "username": "taro", "discriminator": "0", "global_name": null, "avatar": null, "bot": bot_author},
            "content": content, "timestamp": "2026-01-05T10:00:00.000000+00:00", "edited_timestamp": null,
            "tts": false, "mention_everyone": false,
            "mentions": if mentions_bot { json!([{"id": BOT.to_string(), "username": "madoguchi", "discriminator": "0", "avatar": null, "bot": true}]) } else { json!([]) },
            "mention_roles": [], "attachments": [], "embeds": [], "pinned": false, "type": 0
        });
        if guild {
            v["guild_id"] = json!("555");
        }
        v
    }

    fn view(content: &str, guild: bool, mentions_bot: bool, bot_author: bool) -> MessageView {
        let m: Message =
            serde_json::from_value(message_json(content, guild, mentions_bot, bot_author))
                .expect("serenity accepts the fixture");
        MessageView::of(&m)
    }

    #[test]
    fn a_mention_in_a_guild_channel_starts_a_thread_and_maps_to_inbound() {
        let v = view("<@900> 窓口の電話番号は？", true, true, false);
        assert_eq!(v.guild_id, Some(555));
        assert_eq!(
            route(&v, Place::Channel, BOT, &cfg()),
            Route::Member { new_thread: true }
        );
        assert_eq!(
            inbound(&v, BOT, 3003),
            Inbound {
                channel: ChannelKind::Discord,
                user: "123".into(),
                conversation: "3003".into(),
                text: "窓口の電話番号は？".into()
            }
        );
    }

    #[test]
    fn a_mention_token_in_the_text_counts_even_without_the_mentions_list() {
        let v = view("<@900> 窓口の電話番号は？", true, false, false);
        assert_eq!(
            route(&v, Place::Channel, BOT, &cfg()),
            Route::Member { new_thread: true }
        );
        let v = view("<@!900> 窓口の電話番号は？", true, false, false);
        assert_eq!(
            route(&v, Place::Channel, BOT, &cfg()),
            Route::Member { new_thread: true }
        );
    }

    #[test]
    fn dms_are_answered_in_place() {
        let v = view("支援金はいくら？", false, false, false);
        assert_eq!(
            route(&v, Place::DirectMessage, BOT, &cfg()),
            Route::Member { new_thread: false }
        );
    }

    #[test]
    fn unmentioned_chatter_bots_and_foreign_threads_are_ignored() {
        let v = view("今日は暑い", true, false, false);
        assert!(matches!(
            route(&v, Place::Channel, BOT, &cfg()),
            Route::Ignore(_)
        ));
        let b = view("<@900> hi", true, true, true);
        assert!(matches!(
            route(&b, Place::Channel, BOT, &cfg()),
            Route::Ignore(_)
        ));
        assert!(matches!(
            route(
                &v,
                Place::Thread {
                    parent_id: 7,
                    owned_by_bot: false
                },
                BOT,
                &cfg()
            ),
            Route::Ignore(_)
        ));
    }

    #[test]
    fn configured_channels_and_our_threads_are_answered_without_a_mention() {
        let mut v = view("登録は必要？", true, false, false);
        v.channel_id = 42;
        assert_eq!(
            route(&v, Place::Channel, BOT, &cfg()),
            Route::Member { new_thread: true }
        );
        let v = view("それはいくら？", true, false, false);
        assert_eq!(
            route(
                &v,
                Place::Thread {
                    parent_id: 7,
                    owned_by_bot: true
                },
                BOT,
                &cfg()
            ),
            Route::Member { new_thread: false }
        );
    }

    #[test]
    fn replies_in_staff_channel_threads_are_staff_replies() {
        let v = view("お電話します", true, false, false);
        assert_eq!(
            route(
                &v,
                Place::Thread {
                    parent_id: 500,
                    owned_by_bot: true
                },
                BOT,
                &cfg()
            ),
            Route::StaffReply { thread_id: 77 }
        );
        let mut top = v.clone();
        top.channel_id = 500;
        assert!(matches!(
            route(&top, Place::Channel, BOT, &cfg()),
            Route::Ignore(_)
        ));
    }

    fn reply(text: &str, choices: Vec<Choice>) -> Reply {
        Reply {
            text: text.into(),
            intent: Label::Overview,
            confidence: 0.9,
            urgent: false,
            kind: ReplyKind::Answer,
            choices,
            escalate: None,
            sources: vec![],
        }
    }

    #[test]
    fn every_reply_message_has_empty_allowed_mentions_and_no_live_mass_mention() {
        let r = reply(
            "@everyone と @here はそのまま通知されません",
            vec![Choice {
                label: "窓口".into(),
                value: "窓口の電話番号は？".into(),
            }],
        );
        let msgs = reply_messages(&r);
        assert_eq!(msgs.len(), 1);
        let v = serde_json::to_value(&msgs[0]).unwrap();
        assert_eq!(v["allowed_mentions"]["parse"], json!([]), "{v}");
        assert_eq!(v["allowed_mentions"]["users"], json!([]));
        assert_eq!(v["allowed_mentions"]["roles"], json!([]));
        let content = v["content"].as_str().unwrap();
        assert!(!content.contains("@everyone") && !content.contains("@here"));
        let button = &v["components"][0]["components"][0];
        assert_eq!(button["label"], "窓口");
        assert_eq!(
            parse_custom_id(button["custom_id"].as_str().unwrap()),
            ButtonAct::Choice("窓口の電話番号は？".into())
        );
    }

    #[test]
    fn long_replies_split_under_2000_with_buttons_on_the_last() {
        let r = reply(
            &"説明の行です。\n".repeat(400),
            vec![Choice {
                label: "次".into(),
                value: "次へ".into(),
            }],
        );
        let msgs = reply_messages(&r);
        assert!(msgs.len() > 1);
        for (i, m) in msgs.iter().enumerate() {
            let v = serde_json::to_value(m).unwrap();
            assert!(v["content"].as_str().unwrap().chars().count() <= 2000);
            assert_eq!(v["allowed_mentions"]["parse"], json!([]));
            assert_eq!(v.get("components").is_some(), i + 1 == msgs.len(), "{i}");
        }
    }

    #[test]
    fn long_choice_values_still_fit_a_custom_id() {
        let long = "あ".repeat(300);
        let rows = choice_rows(&reply(
            "x",
            vec![Choice {
                label: "長い".into(),
                value: long,
            }],
        ));
        let v = serde_json::to_value(&rows).unwrap();
        assert!(
            v[0]["components"][0]["custom_id"]
                .as_str()
                .unwrap()
                .chars()
                .count()
                <= 100
        );
    }

    #[test]
    fn escalation_embed_has_claim_and_resolve_buttons() {
        let mut e = Escalation::sample(
            7,
            ChannelKind::Discord,
            "@everyone ランサムウェアに感染しました",
        );
        e.user = "123".into();
        e.conversation = "3003".into();
        let v = serde_json::to_value(escalation_message(&e)).unwrap();
        assert!(v["embeds"][0]["title"]
            .as_str()
            .unwrap()
            .starts_with("#7 至急"));
        assert!(!v["embeds"][0]["description"]
            .as_str()
            .unwrap()
            .contains("@everyone"));
        let ids: Vec<&str> = v["components"][0]["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["custom_id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids.iter().map(|i| parse_custom_id(i)).collect::<Vec<_>>(),
            vec![ButtonAct::Claim(7), ButtonAct::Resolve(7)]
        );
        assert_eq!(v["allowed_mentions"]["parse"], json!([]));
    }

    #[test]
    fn slash_conversations_deliver_staff_replies_by_dm() {
        let item = |conv: &str| OutboxItem {
            id: 1,
            escalation_id: 1,
            channel: ChannelKind::Discord,
            user: "123".into(),
            conversation: conv.into(),
            text: "x".into(),
            staff: "s".into(),
        };
        assert_eq!(outbox_target(&item("3003")), Some(Ok(3003)));
        assert_eq!(outbox_target(&item("slash:77")), Some(Err(123)));
    }

    #[test]
    fn the_slash_command_has_a_required_question() {
        let v = serde_json::to_value(slash_command()).unwrap();
        assert_eq!(v["name"], "madoguchi");
        assert_eq!(v["options"][0]["name"], "question");
        assert_eq!(v["options"][0]["required"], true);
    }

    #[test]
    fn thread_names_are_short_and_mention_free() {
        let n = thread_name(&format!("<@900> {}", "長".repeat(200)));
        assert!(n.chars().count() <= 100 && !n.contains("<@"));
    }
}
