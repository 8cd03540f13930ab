// "Jump to latest": shown while the reader is scrolled up and messages arrived below, with their count.

export function createJump(button, scroller) {
  let unseen = 0;
  function show() {
    button.hidden = unseen === 0;
    button.textContent = "Jump to latest" + (unseen ? " (" + unseen + " new)" : "");
  }
  if (button) {
    button.addEventListener("click", () => {
      scroller.toBottom();
      unseen = 0;
      show();
    });
    scroller.onScroll(() => {
      if (unseen && scroller.atBottom()) {
        unseen = 0;
        show();
      }
    });
  }
  return {
    arrived(count) {
      if (!button || !count) return;
      unseen += count;
      show();
    },
  };
}
