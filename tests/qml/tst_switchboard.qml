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
    property Channel capped: null

    Gateway {
        id: gateway
        statsInterval: 0
        tokens: ({
            "token-alice": { user: "alice", info: { name: "Alice" }, channels: ["presence-lobby"] },
            "token-bob": { user: "bob", info: { name: "Bob" }, channels: ["presence-lobby"] }
        })
    }
    Client { id: alice; token: "token-alice" }
    // Bob speaks the binary encoding (switchboard.v1.binary), Alice JSON: the same scene either way.
    Client { id: bob; encoding: Client.Binary; tokenProvider: function() { return "token-bob" } }

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
        MessageList { id: tailList; width: 300; height: 60; model: root.capped ? root.capped.messages : null }
    }

    // A consumer whose handler takes a few milliseconds per message: the event-loop pass that
    // delivers a message then lasts as long as it does on a slow machine (qemu). TestCase's
    // tryCompare/tryVerify first call wait(0), whose processEvents stops after a pass longer than
    // 0 ms, so they can return after the delivery and before the model's queued insert (test_4).
    Connections {
        id: slowConsumer
        target: root.capped
        enabled: false
        property int busyMs: 3
        function onMessageReceived() {
            var until = Date.now() + busyMs
            while (Date.now() < until) {}
        }
    }

    // Per-channel slow-consumer policies: a valid list starts, an invalid entry refuses to.
    Gateway {
        id: policyGateway
        statsInterval: 0
        channelPolicies: ["prices/=latest-only", "sensors/=latest-only:id", "=drop-oldest"]
    }
    Gateway {
        id: badPolicyGateway
        statsInterval: 0
        channelPolicies: ["prices/=fastest"]
    }

    // Components inherit the palette of the item they sit in.
    Item {
        id: darkScope
        palette.windowText: "#e6edf3"
        ConnectionIndicator { id: darkIndicator }
        MessageList { id: darkMessages }
        PresenceList { id: darkPresence; model: 0 }
    }

    TestCase {
        name: "Switchboard"

        function test_0_channelPolicies() {
            verify(policyGateway.start(), policyGateway.errorString)
            compare(policyGateway.conflated, 0)
            policyGateway.stop()
            verify(!badPolicyGateway.start())
            compare(badPolicyGateway.errorString.indexOf("channelPolicies: channel policy must be"), 0,
                    badPolicyGateway.errorString)
        }

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
            compare(alice.wireEncoding, Client.Json)
            compare(bob.wireEncoding, Client.Binary)
            compare(indicator.stateName, "connected")
            tryCompare(gateway, "clientCount", 2)

            root.news = alice.subscribe("news")
            root.lobby = alice.subscribe("presence-lobby")
            compare(root.lobby.type, "presence")
            var bobLobby = bob.subscribe("presence-lobby", { recover: false })
            var bobNews = bob.subscribe("news")
            tryCompare(root.news, "subscribed", true)
            tryCompare(bobLobby, "subscribed", true)
            tryCompare(bobNews, "subscribed", true)
            tryCompare(roster, "count", 2)
            var members = [roster.itemAt(0).text, roster.itemAt(1).text].sort()
            compare(members, ["alice/Alice", "bob/Bob"])
            compare(presenceList.count, 2)
            tryCompare(bobLobby.presence, "count", 2)

            gateway.publish("news", "say", { text: "hello" })
            gateway.publish("news", "say", { text: "world" })
            tryCompare(list, "count", 2)
            list.forceLayout()
            compare(list.itemAtIndex(0).text, "say:hello")
            compare(list.itemAtIndex(1).text, "say:world")
            compare(root.news.latest.text, "world")
            compare(root.news.messages.get(1).payload.text, "world")
            compare(messageList.count, 2)
            tryCompare(bobNews.messages, "count", 2)
            compare(bobNews.latest.text, "world")

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

        function test_3_roundTripTime() {
            tryCompare(alice, "state", Client.Connected, 10000)
            compare(alice.pingInterval, 2000)
            tryVerify(function() { return alice.roundTripTime > -1 }, 5000)
            verify(isFinite(alice.roundTripTime))
            compare(bob.state, Client.Closed)
            compare(bob.roundTripTime, -1)
            alice.pingInterval = 0
            compare(alice.roundTripTime, -1)
            alice.pingInterval = 2000
            tryVerify(function() { return alice.roundTripTime > -1 }, 5000)
            alice.active = false
            tryCompare(alice, "state", Client.Closed)
            compare(alice.roundTripTime, -1)
            alice.active = true
            tryCompare(alice, "state", Client.Connected, 10000)
        }

        // Whether the list's last row shows message `i` and lies inside the view.
        function showsNewest(view, i) {
            view.forceLayout()
            var last = view.itemAtIndex(view.count - 1)
            return last !== null && last.payload.i === i && inView(view, last)
        }
        function inView(view, item) {
            return item.y >= view.contentY - 1 && item.y + item.height <= view.contentY + view.height + 1
        }
        function newestRow(model) {
            return model.count > 0 ? model.get(model.count - 1).payload.i : -1
        }

        // `received` counts a message when it arrives; its row is inserted one event-loop turn
        // later (MessageModel batches inserts). At capacity the count stays the same, so the view
        // showing the previous newest row proves nothing: await the new row in the model and in
        // the view. The slow consumer makes the turn that delivers a message as long as it is
        // under emulation, where awaiting `received` alone left row 20 still to come.
        function test_4_messageListFollowsTailAtCapacity() {
            tryCompare(alice, "state", Client.Connected, 10000)
            root.capped = alice.subscribe("capped")
            root.capped.messages.capacity = 8
            slowConsumer.enabled = true
            tryCompare(root.capped, "subscribed", true)
            for (var i = 1; i <= 8; ++i)
                gateway.publish("capped", "n", { i: i })
            tryCompare(root.capped, "received", 8)
            tryVerify(function() { return newestRow(root.capped.messages) === 8 }, 5000, "row 8 inserted")
            compare(tailList.count, 8)
            tryVerify(function() { return showsNewest(tailList, 8) }, 5000, "row 8 in view")
            // At capacity every message removes the oldest row: the count no longer changes.
            for (var k = 9; k <= 20; ++k) {
                gateway.publish("capped", "n", { i: k })
                tryCompare(root.capped, "received", k)
                tryVerify(function() { return newestRow(root.capped.messages) === k }, 5000,
                          "row " + k + " inserted")
                tryVerify(function() { return showsNewest(tailList, k) }, 5000, "row " + k + " in view")
            }
            compare(tailList.count, 8)
            compare(root.capped.messages.get(0).payload.i, 13)
            compare(root.capped.messages.dropped, 12)

            // Not following: the view stays where it is.
            tailList.followTail = false
            tailList.positionViewAtBeginning()
            var top = tailList.contentY
            gateway.publish("capped", "n", { i: 21 })
            tryCompare(root.capped, "received", 21)
            tryVerify(function() { return newestRow(root.capped.messages) === 21 }, 5000, "row 21 inserted")
            // The list defers its follow with Qt.callLater at the insert; a call deferred after
            // the insert runs after it, so once it has run a wrongly queued follow has too.
            var settled = false
            Qt.callLater(function() { settled = true })
            tryVerify(function() { return settled }, 5000, "deferred calls ran")
            compare(tailList.contentY, top)
            tailList.forceLayout()
            var last = tailList.itemAtIndex(tailList.count - 1)
            verify(last === null || !inView(tailList, last))
            slowConsumer.enabled = false
        }

        function test_5_colorsAndFonts() {
            // Defaults: the palette's window text and the application font.
            compare(indicator.textColor, indicator.palette.windowText)
            compare(indicator.font.family, Qt.application.font.family)
            compare(indicator.font.pointSize, Qt.application.font.pointSize)
            verify(Qt.colorEqual(darkIndicator.textColor, "#e6edf3"))
            verify(Qt.colorEqual(darkMessages.textColor, "#e6edf3"))
            verify(Qt.colorEqual(darkPresence.textColor, "#e6edf3"))
            var emptyLabel = findChild(darkPresence, "emptyLabel")
            verify(emptyLabel.visible)
            verify(!Qt.colorEqual(emptyLabel.color, "#e6edf3")) // dimmed
            compare(emptyLabel.color.r, darkPresence.textColor.r)

            var label = findChild(indicator, "stateLabel")
            indicator.textColor = "#ff8800"
            indicator.font.pixelSize = 23
            verify(Qt.colorEqual(label.color, "#ff8800"))
            compare(label.font.pixelSize, 23)

            tryVerify(function() { return messageList.count > 0 })
            messageList.textColor = "#00ff00"
            messageList.font.pixelSize = 21
            messageList.forceLayout()
            var row = messageList.itemAtIndex(0)
            verify(Qt.colorEqual(row.color, "#00ff00"))
            compare(row.font.pixelSize, 21)

            tryVerify(function() { return presenceList.count > 0 })
            presenceList.textColor = "#0000ff"
            presenceList.font.bold = true
            presenceList.forceLayout()
            var member = presenceList.itemAtIndex(0)
            verify(Qt.colorEqual(member.color, "#0000ff"))
            verify(member.font.bold)
            darkPresence.font.pixelSize = 19
            compare(emptyLabel.font.pixelSize, 19)
        }
    }
}
