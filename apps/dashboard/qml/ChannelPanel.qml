import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

// The gateway's channels with subscribers and messages per second. Arrow keys move, Enter (or a
// click) opens the channel in the stream view.
Panel {
    id: root
    /// ListModel rows: name, type, subscribers (-1: unknown), rate, subscribed.
    property alias model: list.model
    property string selectedChannel
    property alias list: list
    signal opened(string name)

    title: "Channels"
    header: Label {
        height: Theme.touchTarget
        verticalAlignment: Text.AlignVCenter
        text: list.count + (list.count === 1 ? " channel" : " channels")
        color: Theme.dim
        font.pixelSize: Theme.smallFont
    }

    RowLayout {
        id: columns
        width: parent.width
        height: 24
        Label { text: "name"; color: Theme.dim; font.pixelSize: 12; Layout.fillWidth: true; leftPadding: 10 }
        Label { text: "subs"; color: Theme.dim; font.pixelSize: 12; horizontalAlignment: Text.AlignRight; Layout.preferredWidth: 48 }
        Label { text: "msg/s"; color: Theme.dim; font.pixelSize: 12; horizontalAlignment: Text.AlignRight; Layout.preferredWidth: 70; rightPadding: 6 }
    }

    ListView {
        id: list
        objectName: "channelList"
        anchors.fill: parent
        anchors.topMargin: columns.height
        clip: true
        activeFocusOnTab: true
        keyNavigationEnabled: true
        highlightMoveDuration: 0
        boundsBehavior: Flickable.StopAtBounds
        ScrollBar.vertical: ScrollBar {}
        highlight: Rectangle { color: list.activeFocus ? Theme.selection : "#eef2f7"; radius: 4 }
        Keys.onReturnPressed: if (currentIndex >= 0) root.opened(model.get(currentIndex).name)
        Keys.onEnterPressed: if (currentIndex >= 0) root.opened(model.get(currentIndex).name)
        Keys.onSpacePressed: if (currentIndex >= 0) root.opened(model.get(currentIndex).name)

        delegate: Item {
            id: row
            required property int index
            required property string name
            required property int subscribers
            required property real rate
            required property bool subscribed
            readonly property bool open: name === root.selectedChannel
            objectName: "channelRow_" + name
            width: ListView.view.width
            height: Theme.rowHeight

            Rectangle {
                visible: row.open
                width: 4; height: parent.height - 8
                anchors.verticalCenter: parent.verticalCenter
                color: Theme.accent
                radius: 2
            }
            RowLayout {
                anchors.fill: parent
                Label {
                    text: row.name
                    font.pixelSize: Theme.fontSize
                    font.bold: row.open
                    color: Theme.text
                    elide: Text.ElideRight
                    leftPadding: 10
                    Layout.fillWidth: true
                }
                Label {
                    objectName: "subscribers"
                    text: row.subscribers >= 0 ? row.subscribers : "–"
                    font.pixelSize: Theme.fontSize
                    color: Theme.text
                    horizontalAlignment: Text.AlignRight
                    Layout.preferredWidth: 48
                }
                Label {
                    objectName: "rate"
                    text: row.rate >= 100 ? Math.round(row.rate) : row.rate.toFixed(1)
                    font.pixelSize: Theme.fontSize
                    font.family: Theme.mono
                    color: row.rate > 0 ? Theme.text : Theme.dim
                    horizontalAlignment: Text.AlignRight
                    Layout.preferredWidth: 70
                    rightPadding: 6
                }
            }
            MouseArea {
                anchors.fill: parent
                onClicked: {
                    list.currentIndex = row.index
                    list.forceActiveFocus()
                    root.opened(row.name)
                }
            }
        }

        Label {
            anchors.centerIn: parent
            visible: list.count === 0
            text: "no channels yet"
            color: Theme.dim
            font.pixelSize: Theme.fontSize
        }
    }
}
