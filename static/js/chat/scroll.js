// Scrolling: follow new messages only if the reader was already at the bottom, and keep the
// reader's place when older messages are added above.

export function atBottom() {
  return window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 80;
}

export function scrollToBottom() {
  window.scrollTo(0, document.documentElement.scrollHeight);
}

export function keepingPlace(addAbove) {
  const heightBefore = document.documentElement.scrollHeight;
  const result = addAbove();
  window.scrollBy(0, document.documentElement.scrollHeight - heightBefore);
  return result;
}
