/** A DOM element from a tag, attributes and children; strings become text nodes, never markup. */
export function h (tag, attrs = {}, ...children) {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue
    element.setAttribute(name, value === true ? '' : String(value))
  }
  element.append(...children.flat().filter(child => child !== undefined && child !== null && child !== false))
  return element
}

/** Replaces what `parent` shows and moves keyboard focus to its first heading, for screen readers. */
export function show (parent, ...children) {
  parent.replaceChildren(...children)
  const heading = parent.querySelector('h1')
  if (heading !== null) { heading.tabIndex = -1; heading.focus() }
}

/** A run's state; a queued run's place in its job's queue when known (`QUEUED (position 12)`). */
export const badge = (state, position) =>
  h('span', { class: `badge badge-${state.toLowerCase()}` },
    state === 'QUEUED' && position !== undefined ? `QUEUED (position ${position})` : state)
