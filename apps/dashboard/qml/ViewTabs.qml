import QtQuick
import QtQuick.Controls

// The tabs of the narrow layout (stream, chart, publish), in the dashboard's theme: a white bar
// framed like the panels, the current tab in the accent colour over an accent underline, every
// tab Theme.touchTarget (40 px) high and keyboard focus shown by a focus-coloured frame.
TabBar {
    id: root
    /// One tab per title, in order; currentIndex selects.
    property var titles: []

    height: Theme.touchTarget
    spacing: 0
    font.pixelSize: Theme.fontSize

    background: Rectangle {
        color: Theme.panel
        radius: 6
        border.width: 1
        border.color: Theme.panelBorder
    }

    Repeater {
        model: root.titles
        delegate: TabButton {
            id: tab
            required property string modelData
            required property int index
            objectName: "tab_" + index
            text: modelData
            height: root.height
            font: root.font
            // The background sits inside the bar; the pressable area stays the full 40 px.
            topInset: 3; bottomInset: 3; leftInset: 3; rightInset: 3

            contentItem: Label {
                objectName: "tabLabel"
                text: tab.text
                font.pixelSize: tab.font.pixelSize
                font.bold: tab.checked
                color: tab.checked ? Theme.accent : Theme.dim
                horizontalAlignment: Text.AlignHCenter
                verticalAlignment: Text.AlignVCenter
                elide: Text.ElideRight
            }
            background: Rectangle {
                objectName: "tabBackground"
                radius: 6
                color: tab.checked ? Theme.selection : tab.pressed ? Theme.codeBackground : "transparent"
                border.width: tab.visualFocus ? 2 : 0
                border.color: Theme.focus
                Rectangle {
                    objectName: "tabUnderline"
                    visible: tab.checked
                    anchors.left: parent.left
                    anchors.right: parent.right
                    anchors.bottom: parent.bottom
                    anchors.margins: 3
                    height: 3
                    radius: 1.5
                    color: Theme.accent
                }
            }
        }
    }
}
