//! Hooks for `Note`. This file is yours: ssot-gen wrote it once and will not overwrite it. Add custom
//! validation or side effects here instead of editing generated code.
use crate::server::rest::Hooks;
/// The hooks of `Note`. Each one has a default that does nothing; override those you need, with these
/// signatures (see [`Hooks`] for when each runs):
///
/// - `fn before_create(input: &mut crate::models::NoteCreate, caller: &Caller) -> Result<(), ApiError>`
/// - `fn before_update(id: &i32, input: &mut crate::models::NoteUpdate, caller: &Caller) -> Result<(), ApiError>`
/// - `fn before_patch(id: &i32, input: &mut crate::models::NotePatch, caller: &Caller) -> Result<(), ApiError>`
/// - `fn before_delete(id: &i32, caller: &Caller) -> Result<(), ApiError>`
/// - `fn after_commit(event: &Event)`
///
/// where `Caller` is `crate::server::auth::Caller`, `ApiError` is `crate::server::error::ApiError` and `Event` is
/// `crate::server::events::Event`. A `before_*` hook that returns an error refuses the request with it.
impl Hooks for crate::models::Note {}
