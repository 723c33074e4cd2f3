// The live side channel of a forum page: "N topics have new activity" while it is open,
// and the list refreshed in place on a click or the `n` key. Without it the page is whole.

const notice = document.querySelector("[data-forum-stream]");
const list = document.querySelector("[data-topic-list]");
if (notice && list && "EventSource" in window) {
  const button = notice.querySelector(".live-notice__button");
  const status = notice.querySelector(".live-notice__status");
  // Topics with activity the list does not show yet: each counts once, however busy.
  const active = new Set();

  const announce = () => {
    const count = active.size;
    button.hidden = count === 0;
    button.textContent = count === 1 ? notice.dataset.textOne : notice.dataset.textMany.replace("{count}", count);
  };

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
      list.replaceChildren(document.createRange().createContextualFragment(html));
      window.scrollTo({ top, behavior: "instant" });
      for (const id of shown) active.delete(id);
      announce();
      // The button hides itself; keep a keyboard reader's place at the refreshed list.
      if (hadFocus) list.focus({ preventScroll: true });
    } finally {
      refreshing = false;
    }
  };
  button.addEventListener("click", refresh);
  document.addEventListener("keydown", (event) => {
    const typing = event.target.closest("input, textarea, select, [contenteditable]");
    const chord = event.ctrlKey || event.metaKey || event.altKey;
    if (event.key === "n" && !typing && !chord && !button.hidden) refresh();
  });

  const stream = new EventSource(notice.dataset.forumStream, { withCredentials: true });
  stream.addEventListener("activity", (event) => {
    for (const id of JSON.parse(event.data).topics) active.add(id);
    announce();
  });
  stream.addEventListener("status", (event) => {
    status.textContent = JSON.parse(event.data).paused ? notice.dataset.textPaused : "";
  });
  // A server without a live endpoint answers 204 and the stream closes for good: say
  // nothing then. Only a stream that was open and dropped is "paused".
  let opened = false;
  stream.addEventListener("error", () => {
    if (opened && stream.readyState !== EventSource.CLOSED) status.textContent = notice.dataset.textPaused;
  });
  stream.addEventListener("open", () => { opened = true; status.textContent = ""; });
}
