import QtQuick
import Switchboard

// A window hosting a Switchboard gateway on a free port and a client of it: a live channel
// (a tick every second) and the presence roster of a lobby.
Window {
    width: 640; height: 400; visible: true
    title: client.state === Client.Connected ? "Switchboard: connected" : "Switchboard: connecting"

    Gateway {
        id: gateway
        port: 0; running: true
        tokens: ({ "panel-token": { user: "panel", info: { name: "Panel" }, channels: ["presence-lobby"] } })
    }
    Client {
        id: client
        url: gateway.url; token: "panel-token"
        active: gateway.running
        property Channel news: subscribe("news")
        property Channel lobby: subscribe("presence-lobby")
    }
    Timer {
        interval: checkMode ? 100 : 1000; running: true; repeat: true
        onTriggered: gateway.publish("news", "tick", { text: new Date().toTimeString() })
    }
    Row {
        anchors.fill: parent
        MessageList { width: parent.width * 0.6; height: parent.height; model: client.news.messages }
        PresenceList { width: parent.width * 0.4; height: parent.height; model: client.lobby.presence }
    }
    ConnectionIndicator { client: client; anchors.bottom: parent.bottom }

    readonly property bool live: client.state === Client.Connected && client.lobby.presence.count === 1
                                 && client.news.messages.count > 0
    onLiveChanged: if (live && checkMode) {
        console.log("switchboard-qml-app: connected, in the roster, publications arriving");
        Qt.quit();
    }
}
