// The one DOM helper the page's views share.

// A new TAG element with ATTRIBUTES and, when given, TEXT as its content.
export function element(tag, attributes, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attributes ?? {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
}
