import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

// Publishes one message: channel, event and a JSON payload checked before anything is sent.
// Ctrl+Return sends from any field of the form.
Panel {
    id: root
    property alias channelText: channelField.text
    property alias eventText: eventField.text
    property alias payloadText: payloadField.text
    /// Empty, or why the last attempt was refused.
    property string error
    property string status
    property alias channelField: channelField
    /// Whether sending is possible (the dashboard's client is connected).
    property bool canSend: true

    /// Emitted with the parsed payload when the form is valid.
    signal submitted(string channel, string event, var payload)

    title: "Publish"

    /// Checks the fields: {ok, error, channel, event, payload}. No side effects.
    function validate() {
        var channel = channelField.text.trim()
        var event = eventField.text.trim()
        if (channel.length === 0)
            return { ok: false, error: "Channel is required." }
        if (/\s/.test(channel))
            return { ok: false, error: "Channel names contain no spaces." }
        if (event.length === 0)
            return { ok: false, error: "Event is required." }
        var text = payloadField.text.trim()
        if (text.length === 0)
            return { ok: false, error: "Payload is required (JSON, e.g. {} or null)." }
        var payload
        try {
            payload = JSON.parse(text)
        } catch (e) {
            return { ok: false, error: "Payload is not valid JSON: " + e.message }
        }
        return { ok: true, error: "", channel: channel, event: event, payload: payload }
    }

    /// Validates, then emits submitted() or shows the error. Returns whether it was sent.
    function send() {
        var result = validate()
        error = result.error
        if (!result.ok) {
            status = ""
            return false
        }
        if (!canSend) {
            error = "Not connected: nothing was sent."
            status = ""
            return false
        }
        submitted(result.channel, result.event, result.payload)
        status = "Sent " + result.event + " to " + result.channel + " at "
                 + new Date().toLocaleTimeString(Qt.locale(), "hh:mm:ss")
        return true
    }

    Shortcut {
        sequences: ["Ctrl+Return", "Ctrl+Enter"]
        enabled: channelField.activeFocus || eventField.activeFocus || payloadField.activeFocus
        onActivated: root.send()
    }

    ColumnLayout {
        anchors.fill: parent
        spacing: 6

        GridLayout {
            columns: 2
            columnSpacing: 8
            rowSpacing: 6
            Layout.fillWidth: true
            Label { text: "Channel"; color: Theme.text; font.pixelSize: Theme.smallFont }
            TextField {
                id: channelField
                objectName: "publishChannelField"
                Layout.fillWidth: true
                Layout.preferredHeight: Theme.touchTarget
                font.pixelSize: Theme.fontSize
                placeholderText: "e.g. news"
                onTextChanged: root.error = ""
            }
            Label { text: "Event"; color: Theme.text; font.pixelSize: Theme.smallFont }
            TextField {
                id: eventField
                objectName: "publishEventField"
                Layout.fillWidth: true
                Layout.preferredHeight: Theme.touchTarget
                font.pixelSize: Theme.fontSize
                placeholderText: "e.g. update"
                onTextChanged: root.error = ""
            }
        }
        ScrollView {
            Layout.fillWidth: true
            Layout.fillHeight: true
            Layout.minimumHeight: 48
            TextArea {
                id: payloadField
                objectName: "publishPayloadField"
                font.family: Theme.mono
                font.pixelSize: Theme.smallFont
                placeholderText: "JSON payload, e.g. {\"text\": \"hello\"}"
                wrapMode: TextEdit.Wrap
                onTextChanged: root.error = ""
                // Tab leaves the field (keyboard users), it does not insert a tab.
                KeyNavigation.priority: KeyNavigation.BeforeItem
                KeyNavigation.tab: sendButton
                KeyNavigation.backtab: eventField
                background: Rectangle {
                    color: Theme.codeBackground
                    border.color: payloadField.activeFocus ? Theme.focus
                                  : (root.error.indexOf("Payload") === 0 ? Theme.bad : Theme.panelBorder)
                    border.width: payloadField.activeFocus ? 2 : 1
                    radius: 3
                }
            }
        }
        RowLayout {
            Layout.fillWidth: true
            Button {
                id: sendButton
                objectName: "publishButton"
                Layout.preferredHeight: Theme.touchTarget
                text: "Send (Ctrl+Enter)"
                font.pixelSize: Theme.smallFont
                onClicked: root.send()
            }
            Label {
                objectName: "publishError"
                visible: root.error.length > 0 || root.status.length > 0
                text: root.error.length > 0 ? root.error : root.status
                color: root.error.length > 0 ? Theme.bad : Theme.good
                font.pixelSize: Theme.smallFont
                font.bold: root.error.length > 0
                wrapMode: Text.Wrap
                maximumLineCount: 2
                elide: Text.ElideRight
                Layout.fillWidth: true
            }
        }
    }
}
