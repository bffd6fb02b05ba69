//! Fact extraction from free Japanese text (owned by the rules work; placeholder).
