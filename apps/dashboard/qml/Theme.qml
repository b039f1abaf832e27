pragma Singleton
import QtQuick

// Colours and sizes of the dashboard: light, high contrast, large enough to read on a wall panel.
QtObject {
    readonly property color window: "#e9edf2"
    readonly property color panel: "#ffffff"
    readonly property color panelBorder: "#cfd7e1"
    readonly property color focus: "#1f6feb"
    readonly property color text: "#17212b"
    readonly property color dim: "#566372"
    readonly property color accent: "#1f6feb"
    readonly property color good: "#2e7d32"
    readonly property color warn: "#b26a00"
    readonly property color bad: "#c62828"
    readonly property color selection: "#d6e6ff"
    readonly property color codeBackground: "#f4f6f9"
    readonly property var series: ["#1f6feb", "#2e7d32", "#b26a00", "#8e24aa", "#00838f", "#6d4c41"]

    readonly property int fontSize: 16
    readonly property int smallFont: 14
    readonly property int titleFont: 18
    /// Smallest side of anything pressed on a touch panel: 7.6 mm on a 7" 800x480 screen (133 dpi).
    readonly property int touchTarget: 40
    readonly property int rowHeight: touchTarget
    readonly property int spacing: 8
    readonly property string mono: "DejaVu Sans Mono"
}
