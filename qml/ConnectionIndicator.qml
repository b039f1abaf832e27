import QtQuick
import Switchboard

// A dot and a label showing a Client's connection state.
Row {
    id: root
    property Client client
    property int dotSize: 12
    /// Colour of the label; follows the palette (inherited from the window) unless set.
    property color textColor: palette.windowText
    /// Font of the label (default: the application font).
    property font font
    readonly property string stateName: {
        if (!client)
            return "no client"
        switch (client.state) {
        case Client.Connected: return "connected"
        case Client.Connecting: return "connecting"
        case Client.Reconnecting: return "reconnecting"
        case Client.Closed: return "closed"
        default: return "disconnected"
        }
    }
    readonly property color stateColor: !client ? "grey"
        : client.state === Client.Connected ? "#2e7d32"
        : (client.state === Client.Connecting || client.state === Client.Reconnecting) ? "#f9a825"
        : "#c62828"

    spacing: 6
    Rectangle {
        width: root.dotSize; height: root.dotSize; radius: root.dotSize / 2
        anchors.verticalCenter: parent.verticalCenter
        color: root.stateColor
    }
    Text {
        objectName: "stateLabel"
        anchors.verticalCenter: parent.verticalCenter
        text: root.stateName
        color: root.textColor
        font: root.font
    }
}
