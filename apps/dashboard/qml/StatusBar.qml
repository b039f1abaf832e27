import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Switchboard

// Connection state, round-trip time and the gateway's counters, in one line; the reason of a
// refused or closed connection and of a failed HTTP API request in red beside them.
Rectangle {
    id: root
    property Client client
    property Gateway gateway
    property string serverUrl
    /// Last measured round trip in ms (Client.roundTripTime, measured with ping/pong; -1: unknown).
    readonly property real roundTripMs: client ? client.roundTripTime : -1
    property bool narrow: false
    property string connectionError
    property string apiError

    implicitHeight: 52
    color: Theme.panel

    component Counter: Column {
        property alias label: caption.text
        property alias value: figure.text
        property alias valueName: figure.objectName
        Label { id: caption; color: Theme.dim; font.pixelSize: 12 }
        Label { id: figure; color: Theme.text; font.pixelSize: Theme.fontSize; font.bold: true }
    }

    RowLayout {
        anchors.fill: parent
        anchors.leftMargin: 14
        anchors.rightMargin: 14
        spacing: root.narrow ? 14 : 24

        Label {
            text: "Switchboard"
            color: Theme.text
            font.pixelSize: 20
            font.bold: true
        }
        ConnectionIndicator {
            id: indicator
            objectName: "connectionIndicator"
            client: root.client
            dotSize: 16
            textColor: Theme.text
            font.pixelSize: Theme.fontSize
            Layout.alignment: Qt.AlignVCenter
        }
        Label {
            objectName: "serverUrlLabel"
            visible: !root.narrow
            text: (root.gateway ? "embedded " : "") + root.serverUrl
            color: Theme.dim
            font.pixelSize: Theme.smallFont
            elide: Text.ElideMiddle
            Layout.maximumWidth: 300
        }
        Counter {
            label: "round trip"
            valueName: "roundTripLabel"
            value: root.roundTripMs < 0 ? "–"
                   : (root.roundTripMs < 10 ? root.roundTripMs.toFixed(1) : Math.round(root.roundTripMs)) + " ms"
        }
        Column {
            Layout.fillWidth: true
            Layout.alignment: Qt.AlignVCenter
            Label {
                objectName: "connectionError"
                visible: text.length > 0
                width: parent.width
                text: root.connectionError
                color: Theme.bad
                font.pixelSize: Theme.smallFont
                elide: Text.ElideRight
            }
            Label {
                objectName: "apiError"
                visible: text.length > 0
                width: parent.width
                text: root.apiError
                color: Theme.bad
                font.pixelSize: Theme.smallFont
                elide: Text.ElideRight
            }
        }
        Counter {
            visible: !!root.gateway
            label: "clients"
            valueName: "clientCountLabel"
            value: root.gateway ? root.gateway.clientCount : ""
        }
        Counter {
            visible: !!root.gateway
            label: "frames in"
            valueName: "framesInLabel"
            value: root.gateway ? root.gateway.framesIn : ""
        }
        Counter {
            visible: !!root.gateway
            label: "frames out"
            valueName: "framesOutLabel"
            value: root.gateway ? root.gateway.framesOut : ""
        }
        Counter {
            visible: !!root.gateway
            label: "drops"
            valueName: "dropsLabel"
            value: root.gateway ? root.gateway.drops : ""
        }
    }
}
