// Delete buttons on messages that arrive live. The poll never reads the session, so it renders
// them for no one, with the form hidden. The page says whose messages this viewer may delete
// (data-delete-scope, from rooms/permissions.py delete_scope); this applies that module's
// may_delete_message to it. The server checks again on every delete.

const ANY_AUTHOR = "*";

export function revealDelete(li, scope) {
  const form = li.querySelector(".delete-form[hidden]");
  if (!form) return;
  if (scope === ANY_AUTHOR || (scope !== "" && scope === li.dataset.author)) form.hidden = false;
  else form.remove();
}
