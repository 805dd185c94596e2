//! Hooks for `User`. This file is yours: ssot-gen wrote it once and will not overwrite it. Add custom
//! validation or side effects here instead of editing generated code. Each `before_*` hook runs once the input
//! has passed the schema's checks and the caller may perform the operation at all (an update or delete is still
//! checked against the stored row afterwards); return an `ApiError` to refuse the change.
use crate::server::auth::Caller;
use crate::server::error::ApiError;
use crate::server::events::Event;
/// Before a `User` is created; may change the input.
pub fn before_create(
    input: &mut crate::models::UserCreate,
    caller: &Caller,
) -> Result<(), ApiError> {
    let _ = (input, caller);
    Ok(())
}
/// Before a `User` is replaced (`PUT`); may change the input.
pub fn before_update(
    id: &::uuid::Uuid,
    input: &mut crate::models::UserUpdate,
    caller: &Caller,
) -> Result<(), ApiError> {
    let _ = (id, input, caller);
    Ok(())
}
/// Before a `User` is changed (`PATCH`); may change the input.
pub fn before_patch(
    id: &::uuid::Uuid,
    input: &mut crate::models::UserPatch,
    caller: &Caller,
) -> Result<(), ApiError> {
    let _ = (id, input, caller);
    Ok(())
}
/// Before a `User` is deleted.
pub fn before_delete(id: &::uuid::Uuid, caller: &Caller) -> Result<(), ApiError> {
    let _ = (id, caller);
    Ok(())
}
/// After a change to a `User` is committed and published (send mail, call a webhook, ...). It cannot undo
/// the change.
pub fn after_commit(event: &Event) {
    let _ = event;
}
