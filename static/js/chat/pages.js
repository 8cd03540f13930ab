/* Pages with the sidebar and no room (Mentions, a person's page, a member list, New message): the
 * sidebar's keyboard and folding, and its unread counts, the title's count and desktop
 * notifications kept live by the user's own stream. The room page does all of this in main.js,
 * its room stream carrying the same events. No inline script: the CSP is script-src 'self'.
 */
import { startNotifications } from "./notify.js";
import { startSidebar } from "./sidebar.js";
import { startLiveSidebar } from "./sidebar-live.js";
import { openUserStream } from "./user-live.js";

const sidebar = document.getElementById("sidebar");
if (sidebar) {
  startSidebar(sidebar, document.getElementById("room-change"));
  startLiveSidebar(sidebar, () => false); // no room is being read here
}
const live = document.getElementById("user-live");
if (live) {
  startNotifications();
  openUserStream(live);
}
