// The notice a live page keeps above what it shows: "1 new reply" / "N topics have new
// activity" as a button that a click or the `n` key acts on, and a status line saying
// when the page's stream is paused. live.js (topic pages) and forum_live.js (forum
// pages) each bring what the notice counts and what acting on it does.

// Where a key is someone typing, not a shortcut.
const FORM_FIELDS = "input, textarea, select, [contenteditable]";

/**
 * Wire the notice `element` (a `.live-notice` with data-text-one, data-text-many and
 * data-text-paused) to `stream`: `act` runs on a click of its button or on a bare `n`
 * pressed outside form fields while the button shows; a chord (Ctrl, Alt or Meta with
 * `n`) is left to the browser. Return the button and `announce(count)`, which shows
 * the button saying how many there are, or hides it for none.
 */
export const liveNotice = (element, stream, act) => {
  const button = element.querySelector(".live-notice__button");
  const status = element.querySelector(".live-notice__status");
  const { textOne, textMany, textPaused } = element.dataset;

  const announce = (count) => {
    button.hidden = count <= 0;
    button.textContent = count === 1 ? textOne : textMany.replace("{count}", count);
  };

  button.setAttribute("aria-keyshortcuts", "n");
  button.addEventListener("click", act);
  document.addEventListener("keydown", (event) => {
    if (event.key !== "n" || button.hidden) return;
    if (event.ctrlKey || event.altKey || event.metaKey) return;
    if (event.target.closest(FORM_FIELDS)) return;
    act();
  });

  stream.addEventListener("status", (event) => {
    status.textContent = JSON.parse(event.data).paused ? textPaused : "";
  });
  // A server without a live endpoint answers 204 and the stream closes for good: say
  // nothing then. Only a stream that was open and dropped is "paused".
  let opened = false;
  stream.addEventListener("error", () => {
    if (opened && stream.readyState !== EventSource.CLOSED) status.textContent = textPaused;
  });
  stream.addEventListener("open", () => {
    opened = true;
    status.textContent = "";
  });

  return { button, announce };
};
