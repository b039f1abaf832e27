import QtQuick
import QtTest
import Switchboard

// A Gateway and two Clients in one QML scene: a ListView bound to a channel's messages, a
// Repeater bound to a presence roster, and the module's reusable components.
Item {
    id: root
    width: 480; height: 480

    property Channel news: null
    property Channel lobby: null

    Gateway {
        id: gateway
        statsInterval: 0
        tokens: ({
            "token-alice": { user: "alice", info: { name: "Alice" }, channels: ["presence-lobby"] },
            "token-bob": { user: "bob", info: { name: "Bob" }, channels: ["presence-lobby"] }
        })
    }
    Client { id: alice; token: "token-alice" }
    Client { id: bob; tokenProvider: function() { return "token-bob" } }

    Column {
        ListView {
            id: list
            width: 300; height: 120
            model: root.news ? root.news.messages : null
            delegate: Text {
                required property string event
                required property var payload
                text: event + ":" + payload.text
            }
        }
        Repeater {
            id: roster
            model: root.lobby ? root.lobby.presence : null
            delegate: Text {
                required property string userId
                required property var info
                text: userId + "/" + info.name
            }
        }
        ConnectionIndicator { id: indicator; client: alice }
        MessageList { id: messageList; width: 300; height: 100; model: root.news ? root.news.messages : null }
        PresenceList { id: presenceList; width: 300; height: 100; model: root.lobby ? root.lobby.presence : null }
    }

    TestCase {
        name: "Switchboard"

        function test_1_liveMessagesAndPresence() {
            verify(gateway.start())
            verify(gateway.running)
            verify(gateway.port > 0)
            compare(indicator.stateName, "disconnected")
            alice.url = gateway.url
            bob.url = gateway.url
            alice.active = true
            bob.active = true
            tryCompare(alice, "state", Client.Connected, 10000)
            tryCompare(bob, "state", Client.Connected, 10000)
            compare(alice.userId, "alice")
            compare(bob.userId, "bob")
            compare(indicator.stateName, "connected")
            tryCompare(gateway, "clientCount", 2)

            root.news = alice.subscribe("news")
            root.lobby = alice.subscribe("presence-lobby")
            compare(root.lobby.type, "presence")
            var bobLobby = bob.subscribe("presence-lobby", { recover: false })
            tryCompare(root.news, "subscribed", true)
            tryCompare(bobLobby, "subscribed", true)
            tryCompare(roster, "count", 2)
            var members = [roster.itemAt(0).text, roster.itemAt(1).text].sort()
            compare(members, ["alice/Alice", "bob/Bob"])
            compare(presenceList.count, 2)

            gateway.publish("news", "say", { text: "hello" })
            gateway.publish("news", "say", { text: "world" })
            tryCompare(list, "count", 2)
            list.forceLayout()
            compare(list.itemAtIndex(0).text, "say:hello")
            compare(list.itemAtIndex(1).text, "say:world")
            compare(root.news.latest.text, "world")
            compare(root.news.messages.get(1).payload.text, "world")
            compare(messageList.count, 2)

            gateway.refreshStats()
            compare(gateway.channels.count, 2)

            bob.active = false
            tryCompare(bob, "state", Client.Closed)
            tryCompare(roster, "count", 1)
            compare(roster.itemAt(0).text, "alice/Alice")
        }

        function test_2_requestCallbackAndPromise() {
            tryCompare(alice, "state", Client.Connected, 10000)
            var callbackError = null
            alice.request("no-such-topic", { x: 1 }, function(error, reply) { callbackError = error })
            tryVerify(function() { return callbackError !== null })
            compare(callbackError.status, 404)

            var rejected = null
            alice.request("no-such-topic", 2).then(function() { rejected = "resolved" },
                                                   function(error) { rejected = error.status })
            tryVerify(function() { return rejected !== null })
            compare(rejected, 404)
        }
    }
}
