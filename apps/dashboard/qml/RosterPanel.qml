import QtQuick
import QtQuick.Controls
import Switchboard

// Who is in the presence channel last opened (one row per user).
Panel {
    id: root
    property Channel channel
    property alias list: roster
    readonly property int memberCount: channel && channel.presence ? channel.presence.count : 0

    title: "Presence"
    header: Label {
        objectName: "rosterCount"
        height: Theme.touchTarget
        verticalAlignment: Text.AlignVCenter
        text: root.channel ? root.channel.name + " · " + root.memberCount : ""
        color: Theme.dim
        font.pixelSize: Theme.smallFont
        elide: Text.ElideLeft
        width: Math.min(implicitWidth, root.width - 120)
    }

    PresenceList {
        id: roster
        objectName: "rosterList"
        anchors.fill: parent
        height: parent.height
        model: root.channel && root.channel.presence ? root.channel.presence : null
        emptyText: root.channel ? "nobody here" : "open a presence- channel"
        textColor: Theme.text
        placeholderColor: Theme.dim
        font.pixelSize: Theme.fontSize
        activeFocusOnTab: true
        keyNavigationEnabled: true
        highlight: Rectangle { color: roster.activeFocus ? Theme.selection : "transparent"; radius: 3 }
        highlightMoveDuration: 0
        spacing: 4
        ScrollBar.vertical: ScrollBar {}
    }
}
