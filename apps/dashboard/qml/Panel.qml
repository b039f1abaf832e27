import QtQuick
import QtQuick.Controls

// A titled box; children go into `content`. The border lights up while something inside has
// keyboard focus, so the focus chain is visible from a distance.
Rectangle {
    id: root
    property string title
    property alias header: headerRow.data
    default property alias content: body.data

    color: Theme.panel
    radius: 6
    border.width: 2
    border.color: focusWatcher.active ? Theme.focus : Theme.panelBorder

    // True while the window's active focus item lies inside this panel.
    QtObject {
        id: focusWatcher
        property bool active: {
            var item = root.Window.activeFocusItem
            while (item) {
                if (item === root)
                    return true
                item = item.parent
            }
            return false
        }
    }

    Label {
        x: 12; y: 8
        text: root.title
        font.pixelSize: Theme.titleFont
        font.bold: true
        color: Theme.text
    }
    Row {
        id: headerRow
        anchors.right: parent.right
        anchors.rightMargin: 10
        y: 4
        height: Theme.touchTarget
        spacing: Theme.spacing
    }
    Item {
        id: body
        anchors.fill: parent
        anchors.topMargin: Theme.touchTarget + 8
        anchors.margins: 8
    }
}
