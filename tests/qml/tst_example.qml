import QtQuick
import QtTest
import Switchboard

// The example of docs/qt.md (and the README), with `Window` replaced by `Item` (tests/docs runs
// the blocks themselves).
Item {
    width: 480; height: 360

    Item {
        id: example
        anchors.fill: parent
        Gateway {
            id: gateway
            port: 0; running: true
            tokens: ({ "alice-token": { user: "alice", info: { name: "Alice" }, channels: ["presence-lobby"] } })
        }
        Client {
            id: client
            url: gateway.url; token: "alice-token"
            active: gateway.running
            property Channel news: subscribe("news")
            property Channel lobby: subscribe("presence-lobby")
        }
        Timer {
            interval: 50; running: true; repeat: true
            onTriggered: gateway.publish("news", "tick", { text: new Date().toTimeString() })
        }
        Row {
            anchors.fill: parent
            MessageList { id: messages; width: parent.width * 0.6; height: parent.height; model: client.news.messages }
            PresenceList { id: roster; width: parent.width * 0.4; height: parent.height; model: client.lobby.presence }
        }
        ConnectionIndicator { id: indicator; client: client; anchors.bottom: parent.bottom }
    }

    TestCase {
        name: "Example"
        function test_example() {
            tryCompare(client, "state", Client.Connected, 10000)
            compare(indicator.stateName, "connected")
            tryCompare(roster, "count", 1)
            tryVerify(function() { return messages.count >= 3 }, 10000)
            roster.forceLayout()
            compare(roster.itemAtIndex(0).text, "alice (Alice)")
            verify(client.news.latest.text.length > 0)
        }
    }
}
