import QtQuick

// A channel's messages, newest at the bottom: pass `channel.messages` as model.
ListView {
    id: root
    // Keeps the newest message in view unless the user scrolled up.
    property bool followTail: true
    implicitWidth: 300
    implicitHeight: 200
    clip: true
    delegate: Text {
        required property string event
        required property var payload
        required property var timestamp
        width: ListView.view.width
        elide: Text.ElideRight
        text: new Date(timestamp).toLocaleTimeString(Qt.locale(), "hh:mm:ss") + "  " + event + "  "
              + (typeof payload === "object" ? JSON.stringify(payload) : String(payload))
    }
    onCountChanged: if (followTail && !moving) positionViewAtEnd()
}
