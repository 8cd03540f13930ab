// Scrolling. With JavaScript the message list's frame (#timeline) is the page's only scroller
// (static/css/rooms.css); should the stylesheet not make it one, the document is. Follow new
// messages only if the reader was already at the bottom, and keep the reader's place when older
// messages are added above.

const NEAR_BOTTOM_PX = 80;
const REVEAL_MARGIN_PX = 48; // a little of the read conversation stays in view above

export function createScroller(timeline) {
  const scrolls = timeline && getComputedStyle(timeline).overflowY !== "visible";
  const el = scrolls ? timeline : document.scrollingElement;
  const target = scrolls ? timeline : window; // where scroll events fire

  return {
    element: el,
    onScroll(listener) {
      target.addEventListener("scroll", listener, { passive: true });
    },
    atBottom() {
      return el.scrollTop + el.clientHeight >= el.scrollHeight - NEAR_BOTTOM_PX;
    },
    toBottom() {
      el.scrollTop = el.scrollHeight;
    },
    // ``node`` near the top of the view (the New messages line on arrival).
    reveal(node) {
      const top = scrolls ? el.getBoundingClientRect().top : 0;
      el.scrollTop += node.getBoundingClientRect().top - top - REVEAL_MARGIN_PX;
    },
    keepingPlace(addAbove) {
      const heightBefore = el.scrollHeight;
      const result = addAbove();
      el.scrollTop += el.scrollHeight - heightBefore;
      return result;
    },
  };
}
