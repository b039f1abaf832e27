import QtQuick
import QtTest
import SwitchboardDashboard

// The rate chart as the dashboard feeds it: one addSample() per second.
Item {
    id: root
    width: 600
    height: 360

    RateChart {
        id: chart
        anchors.fill: parent
    }

    TestCase {
        name: "RateChart"
        when: windowShown

        function canvas() {
            return findChild(chart, "rateChart")
        }

        function init() {
            chart.history = {}
            chart.drops = []
            chart.dropsByChannel = {}
            chart.shown = []
            chart.legendRows = []
            chart.peak = 1
        }

        // Leftmost and rightmost columns of the canvas `c` holding a pixel of `color` (a series
        // line), read from a grab of the whole scene.
        function horizontalExtent(c, color) {
            var image = grabImage(root)
            var origin = c.mapToItem(root, 0, 0)
            var first = -1, last = -1
            for (var x = 0; x < c.width; ++x) {
                for (var y = 0; y < c.height; ++y) {
                    var p = image.pixel(origin.x + x, origin.y + y)
                    if (Math.abs(p.r - color.r) < 0.08 && Math.abs(p.g - color.g) < 0.08 && Math.abs(p.b - color.b) < 0.08) {
                        if (first < 0)
                            first = x
                        last = x
                        break
                    }
                }
            }
            return { first: first, last: last }
        }

        // Three seconds of data cover the time axis instead of a sliver at its right edge.
        function test_shortHistorySpansTheWidth() {
            for (var i = 0; i < 3; ++i)
                chart.addSample([{ name: "news", rate: 10 }], -1)
            compare(chart.sampleCount, 3)
            var c = canvas()
            waitForRendering(c)
            var extent = horizontalExtent(c, Qt.color(Theme.series[0]))
            verify(extent.first >= 0, "the series is drawn")
            var span = extent.last - extent.first
            verify(span > 0.8 * c.width, "3 s of samples span " + span + " of " + c.width + " px")
            compare(chart.axisSeconds, 2)
        }

        // A full window scrolls: 60 samples of 60 cover the width, 90 samples keep the newest 60.
        function test_fullWindowKeepsTheNewest() {
            for (var i = 0; i < 90; ++i)
                chart.addSample([{ name: "news", rate: i }], -1)
            compare(chart.sampleCount, 60)
            compare(chart.axisSeconds, 59)
            compare(chart.history["news"][0], 30)
        }

        // The last subscriber leaves: the channel drops out of the rows. No binding may fail
        // (a TypeError in the legend was printed as a QML warning).
        function test_channelLeavesWithoutWarnings() {
            failOnWarning(/.*/)
            chart.addSample([{ name: "news", rate: 3 }, { name: "sport", rate: 1 }], -1)
            chart.addSample([{ name: "news", rate: 4 }, { name: "sport", rate: 2 }], -1)
            compare(chart.shown, ["news", "sport"])
            chart.addSample([{ name: "sport", rate: 2 }], -1)
            compare(chart.shown, ["sport"])
            chart.addSample([], -1)
            compare(chart.shown, [])
            waitForRendering(canvas())
            var legend = findChild(chart, "chartLegend")
            verify(legend)
        }
    }
}
