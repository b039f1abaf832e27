import QtQuick

// The members of a presence channel: pass `channel.presence` as model.
ListView {
    id: root
    property string emptyText: "nobody here"
    implicitWidth: 200
    implicitHeight: Math.max(contentHeight, 24)
    clip: true
    delegate: Text {
        required property string userId
        required property var info
        required property int connections
        width: ListView.view.width
        text: userId + (info && info.name ? " (" + info.name + ")" : "")
    }
    Text {
        visible: root.count === 0
        text: root.emptyText
        color: "grey"
    }
}
