// The live side channel of a forum page: "N topics have new activity" while it is open,
// and the list refreshed in place on a click or the `n` key. Without it the page is whole.

import { liveNotice } from "./live_notice.js";

const notice = document.querySelector("[data-forum-stream]");
const list = document.querySelector("[data-topic-list]");
if (notice && list && "EventSource" in window) {
  // Topics with activity the list does not show yet: each counts once, however busy.
  const active = new Set();

  let refreshing = false;
  const refresh = async () => {
    if (refreshing) return;
    refreshing = true;
    // Activity that arrives while the list is fetched stays announced: it may be too new.
    const shown = new Set(active);
    try {
      const response = await fetch(notice.dataset.topicsUrl, { credentials: "same-origin" });
      if (!response.ok) return;
      const html = await response.text();
      const hadFocus = document.activeElement === button;
      const top = window.scrollY;
      // A moderator's ticks (topics to act on at once) survive the refresh.
      const ticked = new Set(
        [...list.querySelectorAll('input[form="bulk-topics"]:checked')].map((box) => box.value),
      );
      list.replaceChildren(document.createRange().createContextualFragment(html));
      for (const box of list.querySelectorAll('input[form="bulk-topics"]')) {
        box.checked = ticked.has(box.value);
      }
      window.scrollTo({ top, behavior: "instant" });
      for (const id of shown) active.delete(id);
      announce(active.size);
      // The button hides itself; keep a keyboard reader's place at the refreshed list.
      if (hadFocus) list.focus({ preventScroll: true });
    } finally {
      refreshing = false;
    }
  };

  const stream = new EventSource(notice.dataset.forumStream, { withCredentials: true });
  const { button, announce } = liveNotice(notice, stream, refresh);
  stream.addEventListener("activity", (event) => {
    for (const id of JSON.parse(event.data).topics) active.add(id);
    announce(active.size);
  });
}
