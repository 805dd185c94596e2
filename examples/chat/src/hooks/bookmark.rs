//! Hooks for `Bookmark`. This file is yours: ssot-gen wrote it once and will not overwrite it. Add custom
//! validation or side effects here instead of editing generated code. Each `before_*` hook runs once the input
//! has passed the schema's checks and the caller may perform the operation at all (an update or delete is still
//! checked against the stored row afterwards); return an `ApiError` to refuse the change.
use crate::server::auth::Caller;
use crate::server::error::ApiError;
use crate::server::events::Event;
/// Before a `Bookmark` is created; may change the input.
pub fn before_create(
    input: &mut crate::models::BookmarkCreate,
    caller: &Caller,
) -> Result<(), ApiError> {
    let _ = (input, caller);
    Ok(())
}
/// Before a `Bookmark` is replaced (`PUT`); may change the input.
pub fn before_update(
    id: &i32,
    input: &mut crate::models::BookmarkUpdate,
    caller: &Caller,
) -> Result<(), ApiError> {
    let _ = (id, input, caller);
    Ok(())
}
/// Before a `Bookmark` is changed (`PATCH`); may change the input.
pub fn before_patch(
    id: &i32,
    input: &mut crate::models::BookmarkPatch,
    caller: &Caller,
) -> Result<(), ApiError> {
    let _ = (id, input, caller);
    Ok(())
}
/// Before a `Bookmark` is deleted.
pub fn before_delete(id: &i32, caller: &Caller) -> Result<(), ApiError> {
    let _ = (id, caller);
    Ok(())
}
/// After a change to a `Bookmark` is committed and published (send mail, call a webhook, ...). It cannot undo
/// the change.
pub fn after_commit(event: &Event) {
    let _ = event;
}
