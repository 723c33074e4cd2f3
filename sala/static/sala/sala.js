// Small progressive touches for the page frame; every page works without them.

// Close an open menu when the member clicks elsewhere or presses Escape.
document.addEventListener("click", (event) => {
  for (const menu of document.querySelectorAll("details.menu[open]")) {
    if (!menu.contains(event.target)) menu.open = false;
  }
});
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  for (const menu of document.querySelectorAll("details.menu[open]")) {
    menu.open = false;
    menu.querySelector("summary")?.focus();
  }
});

// Keep "2 hours ago" true while the page stays open (and on pages served from a cache).
const units = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60]];
const relative = new Intl.RelativeTimeFormat(document.documentElement.lang || undefined, { numeric: "auto" });

function refreshRelativeTimes() {
  const now = Date.now();
  for (const element of document.querySelectorAll("time[data-relative]")) {
    const moment = Date.parse(element.dateTime);
    if (Number.isNaN(moment)) continue;
    const seconds = Math.round((moment - now) / 1000);
    const [unit, size] = units.find(([, size]) => Math.abs(seconds) >= size) ?? ["second", 1];
    element.textContent = Math.abs(seconds) < 45 ? relative.format(0, "second") : relative.format(Math.round(seconds / size), unit);
  }
}
refreshRelativeTimes();
setInterval(refreshRelativeTimes, 60_000);
