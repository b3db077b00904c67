// Runs first, before the page paints: lets the CSS hide the no-JavaScript fallbacks.
document.documentElement.classList.add("js");
