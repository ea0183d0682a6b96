/** One bar: its value, and optionally the part of it drawn in the second colour (errors, say). */
export interface Bar { label: string, value: number, part?: number }

export interface BarChart {
  id: string
  title: string
  description: string
  width: number
  height: number
  plot: { left: number, top: number, width: number, bottom: number }
  bars: Array<{ x: number, y: number, width: number, height: number, partY: number, partHeight: number, label: string, showLabel: boolean, tip: string }>
  gridlines: Array<{ y: number, label: string }>
  legend: string[]
}

const WIDTH = 720
const HEIGHT = 260
const PLOT = { left: 56, top: 12, right: 12, bottom: 40 }

/** The smallest 1, 2 or 5 × 10ⁿ at or above `value`. */
export function niceCeiling (value: number): number {
  if (value <= 0) return 1
  const power = 10 ** Math.floor(Math.log10(value))
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power
  return 10 * power
}

const number = (n: number): string => n.toLocaleString('en-GB', { maximumFractionDigits: 1 })

/**
 * The geometry of a vertical bar chart, computed here and drawn by partials/bar-chart.eta as SVG
 * (every label escaped there). A chart always comes with a table of the same numbers.
 */
export function barChart (id: string, title: string, description: string, bars: Bar[], options: { unit?: string, legend?: string[] } = {}): BarChart {
  const max = niceCeiling(Math.max(0, ...bars.map((b) => b.value)))
  const plotWidth = WIDTH - PLOT.left - PLOT.right
  const plotHeight = HEIGHT - PLOT.top - PLOT.bottom
  const slot = plotWidth / Math.max(1, bars.length)
  const barWidth = Math.max(1, Math.min(48, slot * 0.7))
  // Label every bar when they fit, else about twelve of them.
  const every = Math.max(1, Math.ceil(bars.length / 12))
  const unit = options.unit ?? ''
  const scale = (v: number): number => (v / max) * plotHeight
  return {
    id,
    title,
    description,
    width: WIDTH,
    height: HEIGHT,
    plot: { left: PLOT.left, top: PLOT.top, width: plotWidth, bottom: PLOT.top + plotHeight },
    bars: bars.map((bar, i) => {
      const height = scale(bar.value)
      const partHeight = scale(Math.min(bar.part ?? 0, bar.value))
      const y = PLOT.top + plotHeight - height
      return {
        x: round(PLOT.left + i * slot + (slot - barWidth) / 2),
        y: round(y),
        width: round(barWidth),
        height: round(height),
        partY: round(PLOT.top + plotHeight - partHeight),
        partHeight: round(partHeight),
        label: bar.label,
        showLabel: i % every === 0,
        tip: `${bar.label}: ${number(bar.value)}${unit}${bar.part !== undefined && options.legend?.[1] !== undefined ? `, ${number(bar.part)} ${options.legend[1].toLowerCase()}` : ''}`
      }
    }),
    gridlines: [0, 0.2, 0.4, 0.6, 0.8, 1].map((f) => ({ y: round(PLOT.top + plotHeight - f * plotHeight), label: `${number(f * max)}${unit}` })),
    legend: options.legend ?? []
  }
}

function round (n: number): number {
  return Math.round(n * 10) / 10
}
