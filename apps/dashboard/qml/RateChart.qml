import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

// Messages per second of the busiest channels and drops per second over the last `samples`
// seconds, drawn on a Canvas once per sample (no per-message work). The time axis covers the
// samples there are: a short history spans the whole width (axis "-2 s" .. "now" after 3 s)
// and grows until the window of `samples` seconds is full, then scrolls.
Panel {
    id: root
    property int samples: 60
    property int maxSeries: 5
    // name -> array of rates (oldest first); drops: array of drops per second.
    property var history: ({})
    property var drops: []
    property var dropsByChannel: ({})
    property var shown: []          // names drawn, busiest first
    /// The legend's rows, [{name, rate}] in the order of `shown`: one value, replaced at once, so
    /// no delegate ever reads a channel that has just left `history`.
    property var legendRows: []
    property real peak: 1
    readonly property int sampleCount: drops.length
    /// Seconds from the left edge of the time axis to "now": one less than the samples shown
    /// (at least 1), at most samples - 1.
    readonly property int axisSeconds: Math.max(1, Math.min(samples, sampleCount) - 1)

    title: "Messages/s and drops"

    /// One sample: `rows` [{name, rate, drops?}], `dropsPerSecond` for the whole gateway (-1:
    /// unknown). Channels not in `rows` get 0.
    function addSample(rows, dropsPerSecond) {
        var next = {}
        var nextDrops = {}
        for (var i = 0; i < rows.length; ++i) {
            var name = rows[i].name
            var past = history[name] || []
            next[name] = past.concat([rows[i].rate]).slice(-samples)
            if (rows[i].drops !== undefined && rows[i].drops >= 0)
                nextDrops[name] = (dropsByChannel[name] || []).concat([rows[i].drops]).slice(-samples)
        }
        history = next
        dropsByChannel = nextDrops
        drops = drops.concat([Math.max(0, dropsPerSecond)]).slice(-samples)
        var names = Object.keys(next)
        names.sort(function(a, b) {
            var ra = next[a][next[a].length - 1], rb = next[b][next[b].length - 1]
            return rb - ra || (a < b ? -1 : 1)
        })
        shown = names.slice(0, maxSeries)
        legendRows = shown.map(function(name) { return { name: name, rate: next[name][next[name].length - 1] } })
        var top = 4
        for (var n = 0; n < shown.length; ++n)
            top = Math.max(top, Math.max.apply(null, next[shown[n]]))
        top = Math.max(top, Math.max.apply(null, drops))
        peak = niceCeiling(top)
        canvas.requestPaint()
    }

    function niceCeiling(v) {
        var p = Math.pow(10, Math.floor(Math.log(v) / Math.LN10))
        var steps = [1, 2, 5, 10]
        for (var i = 0; i < steps.length; ++i)
            if (v <= steps[i] * p)
                return steps[i] * p
        return 10 * p
    }

    function formatAxis(v) {
        return v >= 1000 ? formatRate(v) : (Math.round(v) === v ? String(v) : v.toFixed(1))
    }

    function formatRate(v) {
        return v >= 10000 ? (v / 1000).toFixed(0) + "k" : v >= 1000 ? (v / 1000).toFixed(1) + "k" : Math.round(v)
    }

    Flow {
        id: legend
        objectName: "chartLegend"
        width: parent.width
        spacing: 14
        Repeater {
            model: root.legendRows
            delegate: Row {
                required property var modelData
                required property int index
                spacing: 5
                Rectangle { width: 14; height: 4; y: 8; color: Theme.series[index % Theme.series.length] }
                Label {
                    text: modelData.name + " " + root.formatRate(modelData.rate)
                    color: Theme.text
                    font.pixelSize: Theme.smallFont
                }
            }
        }
        Row {
            spacing: 5
            Rectangle { width: 14; height: 4; y: 8; color: Theme.bad }
            Label {
                objectName: "dropsLegend"
                text: "drops " + (root.drops.length ? root.formatRate(root.drops[root.drops.length - 1]) : 0)
                color: Theme.bad
                font.pixelSize: Theme.smallFont
            }
        }
    }

    Canvas {
        id: canvas
        objectName: "rateChart"
        anchors.top: legend.bottom
        anchors.topMargin: 6
        anchors.left: parent.left
        anchors.right: parent.right
        anchors.bottom: parent.bottom
        renderStrategy: Canvas.Cooperative

        onPaint: {
            var ctx = getContext("2d")
            ctx.reset()
            var left = 44, bottom = height - 18, top = 6, right = width - 6
            var w = right - left, h = bottom - top
            if (w <= 0 || h <= 0)
                return
            ctx.font = "12px sans-serif"
            ctx.fillStyle = String(Theme.dim)
            ctx.strokeStyle = String(Theme.panelBorder)
            ctx.lineWidth = 1
            for (var g = 0; g <= 4; ++g) {
                var gy = top + h * g / 4
                ctx.beginPath(); ctx.moveTo(left, gy); ctx.lineTo(right, gy); ctx.stroke()
                ctx.textAlign = "right"
                ctx.fillText(root.formatAxis(root.peak * (4 - g) / 4), left - 6, gy + 4)
            }
            ctx.textAlign = "left"
            ctx.fillText("-" + root.axisSeconds + " s", left, height - 3)
            ctx.textAlign = "right"
            ctx.fillText("now", right, height - 3)

            function plot(values, color, width, dashed) {
                if (!values || values.length === 0)
                    return
                ctx.strokeStyle = String(color)
                ctx.lineWidth = width
                ctx.setLineDash(dashed ? [6, 4] : [])
                ctx.beginPath()
                // The newest value is at "now"; older ones one second apart to the left.
                var offset = root.axisSeconds - (values.length - 1)
                for (var i = 0; i < values.length; ++i) {
                    var x = left + w * (offset + i) / root.axisSeconds
                    var y = bottom - h * Math.min(values[i], root.peak) / root.peak
                    if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y)
                }
                ctx.stroke()
            }
            for (var s = root.shown.length - 1; s >= 0; --s) {
                var color = Theme.series[s % Theme.series.length]
                plot(root.history[root.shown[s]], color, 2.5, false)
                plot(root.dropsByChannel[root.shown[s]], color, 1.5, true)
            }
            plot(root.drops, Theme.bad, 2, true)
            ctx.setLineDash([])
        }
        onWidthChanged: requestPaint()
        onHeightChanged: requestPaint()
    }
}
