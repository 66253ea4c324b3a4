import type { Page } from 'playwright-core'

/**
 * What a page does wrong for people who read it with low vision or a screen reader: visible text
 * under WCAG AA's 4.5:1 contrast against its effective background, and controls without a name.
 */
export async function accessibilityProblems (page: Page): Promise<string[]> {
  return await page.evaluate(() => {
    // Runs in the page: the DOM's types are not in this project's (Node) lib.
    const { document, getComputedStyle, Node } = globalThis as any
    const rgb = (color: string): number[] => (color.match(/[\d.]+/g) ?? []).map(Number)
    const luminance = ([r = 0, g = 0, b = 0]: number[]): number => {
      const linear = (v: number): number => { const s = v / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4 }
      return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
    }
    const background = (element: any): number[] => {
      for (let at = element; at !== null; at = at.parentElement) {
        const color = rgb(getComputedStyle(at).backgroundColor)
        if (color.length >= 3 && (color[3] ?? 1) > 0) return color
      }
      return [255, 255, 255]
    }
    const problems: string[] = []
    for (const element of document.querySelectorAll('body *') as any[]) {
      const ownText = [...element.childNodes].some((node: any) => node.nodeType === Node.TEXT_NODE && (node.textContent ?? '').trim() !== '')
      if (!ownText || !element.checkVisibility() || element.closest(':disabled') !== null) continue
      const [light, dark] = [luminance(rgb(getComputedStyle(element).color)), luminance(background(element))].sort((a, b) => b - a) as [
        number,
        number
      ]
      const ratio = (light + 0.05) / (dark + 0.05)
      if (ratio < 4.5) problems.push(`${element.tagName.toLowerCase()} "${(element.textContent ?? '').trim().slice(0, 40)}": contrast ${ratio.toFixed(2)}`)
    }
    for (const control of document.querySelectorAll('input, textarea, select, button') as any[]) {
      if (!control.checkVisibility()) continue
      const name = (control.labels?.[0]?.textContent ?? control.getAttribute('aria-label') ?? (control.tagName === 'BUTTON' ? control.textContent : '') ?? '').trim()
      if (name === '') problems.push(`${control.tagName.toLowerCase()}#${control.id}: no accessible name`)
    }
    return problems
  })
}
