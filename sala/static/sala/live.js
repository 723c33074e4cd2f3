// The live side channel of a topic page: "Recently Browsing" kept current and new
// replies announced, over one Server-Sent Events stream. Without it the page is whole.

import { liveNotice } from "./live_notice.js";

const notice = document.querySelector("[data-live-stream]");
if (notice && "EventSource" in window) {
  let shown = Number(notice.dataset.lastNumber);
  let newest = shown;
  // Pages before the last may be a cached copy that knew fewer posts than the topic has:
  // there, replies are counted from the first one heard while the page is open.
  let counting = Boolean(notice.dataset.lastPage);

  const showNewReplies = async () => {
    if (!notice.dataset.lastPage) {
      window.location.href = `${notice.dataset.topicUrl}post/${shown + 1}/`;
      return;
    }
    const response = await fetch(`${notice.dataset.newPosts}?after=${shown}`, { credentials: "same-origin" });
    if (!response.ok) return;
    const html = await response.text();
    const fragment = document.createRange().createContextualFragment(html);
    const posts = fragment.querySelectorAll("article.post");
    if (posts.length) {
      notice.before(fragment);
      shown = Number(posts[posts.length - 1].id.replace("post-", ""));
    }
    announce(newest - shown);
  };

  const stream = new EventSource(notice.dataset.liveStream, { withCredentials: true });
  const { announce } = liveNotice(notice, stream, showNewReplies);
  stream.addEventListener("browsing", (event) => {
    const block = document.querySelector("[data-browsing]");
    const replacement = document.createRange().createContextualFragment(JSON.parse(event.data).html);
    if (block) block.replaceWith(replacement);
  });
  stream.addEventListener("reply", (event) => {
    const number = Number(JSON.parse(event.data).number);
    if (!counting) {
      shown = Math.max(shown, number - 1);
      counting = true;
    }
    newest = Math.max(newest, number);
    announce(newest - shown);
  });
  const refreshPost = async (event) => {
    const number = Number(JSON.parse(event.data).number);
    const existing = document.getElementById(`post-${number}`);
    if (!existing) return;
    const response = await fetch(`${notice.dataset.newPosts}?after=${number - 1}`, { credentials: "same-origin" });
    if (!response.ok) return;
    const fresh = document.createRange().createContextualFragment(await response.text()).getElementById(`post-${number}`);
    if (fresh) existing.replaceWith(fresh);
  };
  stream.addEventListener("changed", () => {
    notice.querySelector(".live-notice__status").textContent = notice.dataset.textChanged;
  });
  stream.addEventListener("edit", refreshPost);
  stream.addEventListener("delete", refreshPost);
}
