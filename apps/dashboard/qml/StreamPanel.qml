import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Switchboard
import SwitchboardDashboard

// The live messages of the open channel. The StreamModel does the per-message work in C++ and
// hands the view one insertion per batch; the list only creates delegates for visible rows.
// Keys: Ctrl+F filter, Ctrl+P pause, Ctrl+K clear; in the list, arrows select (and pause) and
// Escape resumes.
Panel {
    id: root
    property Channel channel
    property alias stream: streamModel
    property alias view: messages
    property alias filterField: filter
    /// Rows as tall as a touch target (the narrow, panel-sized layout), else as tall as the text.
    property bool touchRows: false
    readonly property var selected: messages.currentIndex >= 0 ? streamModel.get(messages.currentIndex) : null

    title: channel ? channel.name : "Stream"

    function togglePause() {
        streamModel.paused = !streamModel.paused
        if (!streamModel.paused)
            messages.currentIndex = -1
    }

    StreamModel {
        id: streamModel
        objectName: "streamModel"
        source: root.channel ? root.channel.messages : null
        capacity: 500
        eventFilter: filter.text
    }

    Connections {
        target: streamModel
        // Channel.received changes with every message: read it once per batch instead of
        // binding to it.
        function onSeenChanged() { root.received = root.channel ? root.channel.received : 0 }
    }
    /// Messages the channel received (sampled once per batch).
    property real received: 0
    onChannelChanged: received = channel ? channel.received : 0

    header: [
        TextField {
            id: filter
            objectName: "eventFilterField"
            width: 180
            height: Theme.touchTarget
            placeholderText: "filter events (Ctrl+F)"
            font.pixelSize: Theme.smallFont
            Keys.onEscapePressed: text = ""
        },
        Button {
            id: pauseButton
            objectName: "pauseButton"
            height: Theme.touchTarget
            text: streamModel.paused ? "Resume" : "Pause"
            font.pixelSize: Theme.smallFont
            onClicked: root.togglePause()
        },
        Button {
            objectName: "clearButton"
            height: Theme.touchTarget
            text: "Clear"
            font.pixelSize: Theme.smallFont
            onClicked: {
                messages.currentIndex = -1
                streamModel.clear()
            }
        }
    ]

    Label {
        id: summary
        objectName: "streamSummary"
        width: parent.width
        height: 22
        elide: Text.ElideRight
        color: streamModel.paused ? Theme.warn : Theme.dim
        font.pixelSize: Theme.smallFont
        text: !root.channel ? "open a channel (Ctrl+L, then Enter)"
              : (streamModel.paused ? "PAUSED, " + streamModel.heldBack + " new · " : "")
                + streamModel.count + " shown · " + root.received + " received"
                + (root.channel.subscribed ? "" : " · not subscribed" + (root.channel.lastError ? ": " + root.channel.lastError : ""))
    }

    MessageList {
        id: messages
        objectName: "streamView"
        anchors.top: summary.bottom
        anchors.left: parent.left
        anchors.right: parent.right
        anchors.bottom: detail.visible ? detail.top : parent.bottom
        anchors.bottomMargin: detail.visible ? 6 : 0
        model: streamModel
        followTail: !streamModel.paused
        textColor: Theme.text
        font.pixelSize: Theme.fontSize
        rowHeight: root.touchRows ? Theme.touchTarget : 0
        currentIndex: -1
        activeFocusOnTab: true
        keyNavigationEnabled: true
        highlightFollowsCurrentItem: true
        highlightMoveDuration: 0
        boundsBehavior: Flickable.StopAtBounds
        highlight: Rectangle { color: Theme.selection; radius: 3 }
        ScrollBar.vertical: ScrollBar {}
        Keys.onPressed: (event) => {
            if ((event.key === Qt.Key_Up || event.key === Qt.Key_Down || event.key === Qt.Key_PageUp
                 || event.key === Qt.Key_PageDown || event.key === Qt.Key_Home || event.key === Qt.Key_End)
                && !streamModel.paused) {
                streamModel.paused = true
                if (currentIndex < 0)
                    currentIndex = count - 1
            }
            event.accepted = false
        }
        onCurrentIndexChanged: if (currentIndex >= 0) positionViewAtIndex(currentIndex, ListView.Contain)
        onHeightChanged: if (currentIndex >= 0) positionViewAtIndex(currentIndex, ListView.Contain)
        Keys.onEscapePressed: {
            if (streamModel.paused)
                root.togglePause()
        }
        MouseArea {
            anchors.fill: parent
            acceptedButtons: Qt.LeftButton
            onClicked: (mouse) => {
                const row = messages.indexAt(mouse.x + messages.contentX, mouse.y + messages.contentY)
                if (row >= 0) {
                    streamModel.paused = true
                    messages.currentIndex = row
                }
                messages.forceActiveFocus()
            }
            onWheel: (wheel) => { wheel.accepted = false }
        }
    }

    Rectangle {
        id: detail
        visible: streamModel.paused && root.selected !== null && root.selected.event !== undefined
        anchors.left: parent.left
        anchors.right: parent.right
        anchors.bottom: parent.bottom
        height: Math.min(parent.height * 0.45, prettyText.implicitHeight + 36)
        color: Theme.codeBackground
        border.color: Theme.panelBorder
        radius: 4
        Label {
            id: detailTitle
            x: 8; y: 4
            text: root.selected ? root.selected.event + "  ·  offset " + root.selected.offset
                                  + (root.selected.sender ? "  ·  from " + root.selected.sender : "") : ""
            color: Theme.dim
            font.pixelSize: Theme.smallFont
        }
        ScrollView {
            anchors.fill: parent
            anchors.topMargin: 26
            anchors.margins: 8
            clip: true
            Label {
                id: prettyText
                objectName: "messageDetail"
                text: root.selected && root.selected.prettyText !== undefined ? root.selected.prettyText : ""
                font.family: Theme.mono
                font.pixelSize: Theme.smallFont
                color: Theme.text
                textFormat: Text.PlainText
            }
        }
    }
}
