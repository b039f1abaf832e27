import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Switchboard
import SwitchboardDashboard

// switchboard-dashboard's window. Initial properties come from the command line (Dashboard.cpp):
// serverUrl and token for the Client; gateway in embedded mode; channelsApiUrl and apiKey to list
// a remote gateway's channels; initialChannels to subscribe at start.
ApplicationWindow {
    id: window
    objectName: "dashboard"

    property Gateway gateway: null
    property string serverUrl
    property string token
    property var initialChannels: []
    property string channelsApiUrl
    property string apiKey

    /// Below this width the stream, chart and publish form share one area with tabs.
    readonly property bool narrow: width < 1100
    property string selectedChannel
    property Channel openChannel: null
    property Channel rosterChannel: null
    property alias stream: streamPanel.stream
    /// Why the connection was refused or closed, as the gateway said it ("closed 3501: malformed
    /// token"); empty while connected.
    property string connectionError
    /// Why the last channel-list request of the HTTP API failed ("API 401: missing or wrong API
    /// key"); empty after a good answer.
    property string apiError

    width: 1280
    height: 800
    minimumWidth: 640
    minimumHeight: 400
    visible: true
    title: "Switchboard dashboard · " + serverUrl
    color: Theme.window
    font.pixelSize: Theme.fontSize

    Client {
        id: client
        objectName: "client"
        url: window.serverUrl
        token: window.token
        active: window.serverUrl.length > 0

        onConnected: window.connectionError = ""
        // The close code and reason of the gateway's `disconnect` (or of the WebSocket close).
        onDisconnected: (code, reason) => {
            if (code !== 1000 && code !== 0)
                window.connectionError = "closed " + code + (reason ? ": " + reason : "")
        }
        // A connection that failed without a close frame (refused, unreachable, TLS).
        onErrorOccurred: (message, code) => {
            if (state !== Client.Connected && !window.connectionError)
                window.connectionError = "error " + code + ": " + message
        }
    }

    /// Subscribes (once) and shows `name` in the stream view; presence channels also go to the
    /// roster.
    function openChannelNamed(name) {
        name = String(name).trim()
        if (name.length === 0)
            return
        var channel = client.subscribe(name)
        sampler.remember(name)
        selectedChannel = name
        openChannel = channel
        if (channel && channel.presence)
            rosterChannel = channel
        if (!publishForm.channelText)
            publishForm.channelText = name
    }

    Component.onCompleted: {
        for (var i = 0; i < initialChannels.length; ++i) {
            var channel = client.subscribe(initialChannels[i])
            sampler.remember(initialChannels[i])
            if (channel && channel.presence && !rosterChannel)
                rosterChannel = channel
        }
        if (initialChannels.length > 0)
            openChannelNamed(initialChannels[0])
    }

    // ---- once per second: channel rows, rates and the chart (never per message) ----
    ListModel { id: channelRows }

    Timer {
        id: sampler
        interval: 1000
        repeat: true
        running: true
        triggeredOnStart: true

        property var subscribedNames: []
        property var lastReceived: ({})
        property real lastTime: 0
        property real lastDrops: -1
        property var apiRows: null        // newest answer of channelsApiUrl, with rates
        property var apiPublished: ({})
        property real apiTime: 0
        property bool apiBusy: false

        function remember(name) {
            if (subscribedNames.indexOf(name) < 0)
                subscribedNames = subscribedNames.concat([name])
        }

        function pollApi() {
            if (!window.channelsApiUrl || apiBusy)
                return
            apiBusy = true
            var request = new XMLHttpRequest()
            request.onreadystatechange = function() {
                if (request.readyState !== XMLHttpRequest.DONE)
                    return
                apiBusy = false
                var answer
                try {
                    answer = JSON.parse(request.responseText)
                } catch (e) {
                    answer = null
                }
                if (request.status !== 200 || !answer) {
                    // The gateway's error body is {"error": {"code", "message"}}.
                    var message = answer && answer.error && answer.error.message ? answer.error.message
                                : request.status === 0 ? "no answer" : String(request.responseText).trim().slice(0, 120)
                    window.apiError = "API " + request.status + ": " + message
                    apiRows = null
                    return
                }
                window.apiError = ""
                var now = Date.now()
                var dt = apiTime > 0 ? (now - apiTime) / 1000 : 0
                var rows = []
                var published = {}
                var list = answer.channels || []
                for (var i = 0; i < list.length; ++i) {
                    var c = list[i]
                    published[c.name] = c.published
                    var before = apiPublished[c.name]
                    rows.push({ name: c.name, type: c.type, subscribers: c.subscribers,
                                rate: dt > 0 && before !== undefined ? Math.max(0, (c.published - before) / dt) : -1 })
                }
                apiPublished = published
                apiTime = now
                apiRows = rows
            }
            request.open("GET", window.channelsApiUrl)
            request.setRequestHeader("Authorization", "Bearer " + window.apiKey)
            request.send()
        }

        onTriggered: {
            var now = Date.now()
            var dt = lastTime > 0 ? (now - lastTime) / 1000 : 0
            lastTime = now
            // Rates of the channels this dashboard subscribed to, from what it received.
            var received = {}
            var localRate = {}
            for (var s = 0; s < subscribedNames.length; ++s) {
                var channel = client.channel(subscribedNames[s])
                if (!channel)
                    continue
                var before = lastReceived[subscribedNames[s]]
                received[subscribedNames[s]] = channel.received
                localRate[subscribedNames[s]] = dt > 0 && before !== undefined
                    ? Math.max(0, (channel.received - before) / dt) : 0
            }
            lastReceived = received

            var byName = {}
            var rows = []
            function add(row) {
                if (row.rate < 0) // not known yet from the server side
                    row.rate = localRate[row.name] || 0
                row.subscribed = localRate[row.name] !== undefined
                byName[row.name] = row
                rows.push(row)
            }
            if (window.gateway) {
                var model = window.gateway.channels
                for (var i = 0; i < model.count; ++i) {
                    var r = model.get(i)
                    add({ name: r.name, type: r.type, subscribers: r.subscribers, rate: r.messageRate,
                          drops: r.drops !== undefined ? r.drops : -1 })
                }
            } else if (apiRows) {
                for (var a = 0; a < apiRows.length; ++a)
                    add(Object.assign({}, apiRows[a]))
            }
            // Subscribed channels the server did not list (no stats source, or not created yet).
            for (var n = 0; n < subscribedNames.length; ++n) {
                var name = subscribedNames[n]
                var subscribed = client.channel(name)
                if (subscribed && !byName[name])
                    add({ name: name, type: subscribed.type, subscribers: -1, rate: localRate[name] })
            }
            rows.sort(function(x, y) { return x.name < y.name ? -1 : x.name > y.name ? 1 : 0 })

            var same = rows.length === channelRows.count
            for (var k = 0; same && k < rows.length; ++k)
                same = channelRows.get(k).name === rows[k].name
            var entries = rows.map(function(row) {
                return { name: row.name, type: row.type || "", subscribers: row.subscribers,
                         rate: row.rate, subscribed: !!row.subscribed }
            })
            if (same) {
                for (var u = 0; u < entries.length; ++u)
                    channelRows.set(u, entries[u])
            } else {
                var current = channelPanel.list.currentIndex >= 0 && channelPanel.list.currentIndex < channelRows.count
                    ? channelRows.get(channelPanel.list.currentIndex).name : window.selectedChannel
                channelRows.clear()
                channelRows.append(entries)
                channelPanel.list.currentIndex = Math.max(0, rows.findIndex(function(row) { return row.name === current }))
            }

            var dropsPerSecond = -1
            if (window.gateway) {
                var drops = window.gateway.drops
                dropsPerSecond = lastDrops >= 0 && dt > 0 ? (drops - lastDrops) / dt : 0
                lastDrops = drops
            }
            chart.addSample(rows, dropsPerSecond)
            pollApi()
        }
    }

    // ---- keyboard ----
    Shortcut { sequence: "Ctrl+L"; onActivated: channelPanel.list.forceActiveFocus() }
    Shortcut { sequence: "Ctrl+R"; onActivated: rosterPanel.list.forceActiveFocus() }
    Shortcut {
        sequence: "Ctrl+F"
        onActivated: { tabs.currentIndex = 0; streamPanel.filterField.forceActiveFocus(); streamPanel.filterField.selectAll() }
    }
    Shortcut { sequence: "Ctrl+P"; onActivated: streamPanel.togglePause() }
    Shortcut { sequence: "Ctrl+K"; onActivated: { streamPanel.view.currentIndex = -1; streamPanel.stream.clear() } }
    Shortcut {
        sequence: "Ctrl+E"
        onActivated: { tabs.currentIndex = 2; publishForm.channelField.forceActiveFocus() }
    }
    Shortcut { sequence: "Ctrl+1"; onActivated: { tabs.currentIndex = 0; streamPanel.view.forceActiveFocus() } }
    Shortcut { sequence: "Ctrl+2"; onActivated: tabs.currentIndex = 1 }
    Shortcut { sequence: "Ctrl+3"; onActivated: { tabs.currentIndex = 2; publishForm.channelField.forceActiveFocus() } }
    Shortcut { sequence: "F1"; onActivated: help.opened ? help.close() : help.open() }

    // ---- layout ----
    StatusBar {
        id: statusBar
        objectName: "statusBar"
        anchors.left: parent.left
        anchors.right: parent.right
        client: client
        gateway: window.gateway
        serverUrl: window.serverUrl
        narrow: window.narrow
        connectionError: window.connectionError
        apiError: window.apiError
    }

    Item {
        id: content
        anchors.top: statusBar.bottom
        anchors.left: parent.left
        anchors.right: parent.right
        anchors.bottom: parent.bottom
        anchors.margins: 10
        readonly property int gap: 10
        readonly property int leftWidth: window.narrow ? 250 : 310
        readonly property int rightWidth: window.narrow ? 0 : 400

        ChannelPanel {
            id: channelPanel
            objectName: "channelPanel"
            x: 0; y: 0
            width: content.leftWidth
            height: Math.round((content.height - content.gap) * 0.55)
            model: channelRows
            selectedChannel: window.selectedChannel
            onOpened: (name) => window.openChannelNamed(name)
        }
        RosterPanel {
            id: rosterPanel
            objectName: "rosterPanel"
            x: 0
            y: channelPanel.height + content.gap
            width: content.leftWidth
            height: content.height - y
            channel: window.rosterChannel
        }

        Item {
            id: work
            x: content.leftWidth + content.gap
            width: content.width - x
            height: content.height

            ViewTabs {
                id: tabs
                objectName: "tabs"
                visible: window.narrow
                width: parent.width
                height: visible ? Theme.touchTarget : 0
                titles: ["Stream (Ctrl+1)", "Chart (Ctrl+2)", "Publish (Ctrl+3)"]
            }

            StreamPanel {
                id: streamPanel
                objectName: "streamPanel"
                visible: !window.narrow || tabs.currentIndex === 0
                y: window.narrow ? tabs.height + 6 : 0
                width: window.narrow ? work.width : work.width - content.rightWidth - content.gap
                height: work.height - y
                channel: window.openChannel
                touchRows: window.narrow
            }
            RateChart {
                id: chart
                objectName: "chartPanel"
                visible: !window.narrow || tabs.currentIndex === 1
                x: window.narrow ? 0 : work.width - content.rightWidth
                y: window.narrow ? tabs.height + 6 : 0
                width: window.narrow ? work.width : content.rightWidth
                height: window.narrow ? work.height - y : Math.round((work.height - content.gap) * 0.45)
            }
            PublishForm {
                id: publishForm
                objectName: "publishForm"
                visible: !window.narrow || tabs.currentIndex === 2
                x: window.narrow ? 0 : work.width - content.rightWidth
                y: window.narrow ? tabs.height + 6 : chart.height + content.gap
                width: window.narrow ? work.width : content.rightWidth
                height: work.height - y
                canSend: client.state === Client.Connected
                onSubmitted: (channel, event, payload) => client.publish(channel, event, payload)
            }
        }
    }

    Popup {
        id: help
        objectName: "helpPopup"
        anchors.centerIn: parent
        modal: true
        padding: 20
        contentItem: Label {
            textFormat: Text.StyledText
            font.pixelSize: Theme.fontSize
            color: Theme.text
            text: "<b>Keyboard</b><br>"
                  + "Tab / Shift+Tab: next / previous control<br>"
                  + "Ctrl+L: channels (arrows, Enter opens)<br>"
                  + "Ctrl+R: presence roster<br>"
                  + "Ctrl+F: filter events (Escape clears)<br>"
                  + "Ctrl+P: pause / resume the stream<br>"
                  + "Arrows in the stream: select a message (pauses); Escape resumes<br>"
                  + "Ctrl+K: clear the stream<br>"
                  + "Ctrl+E: publish form; Ctrl+Enter sends<br>"
                  + "Ctrl+1 / 2 / 3: stream, chart, publish tabs (narrow layout)<br>"
                  + "F1: this help"
        }
    }
}
