import QtQuick
import QtTest
import SwitchboardDashboard

Item {
    id: root
    width: 600
    height: 420

    PublishForm {
        id: form
        anchors.fill: parent
    }

    SignalSpy {
        id: sent
        target: form
        signalName: "submitted"
    }

    TestCase {
        name: "PublishForm"
        when: windowShown

        function errorLabel() {
            return findChild(form, "publishError")
        }

        function fill(channel, event, payload) {
            form.channelText = channel
            form.eventText = event
            form.payloadText = payload
        }

        function init() {
            fill("", "", "")
            form.error = ""
            form.status = ""
            form.canSend = true
            sent.clear()
        }

        function test_validJsonIsSent_data() {
            return [
                { tag: "object", payload: '{"text": "hello", "n": 2}', expected: { text: "hello", n: 2 } },
                { tag: "nested", payload: ' {"a": [1, {"b": null}], "ok": true} ', expected: { a: [1, { b: null }], ok: true } },
                { tag: "array", payload: '[1, 2, 3]', expected: [1, 2, 3] },
                { tag: "number", payload: '42.5', expected: 42.5 },
                { tag: "string", payload: '"plain"', expected: "plain" },
                { tag: "null", payload: 'null', expected: null },
                { tag: "multi-line", payload: '{\n  "x": 1\n}', expected: { x: 1 } },
            ]
        }

        function test_validJsonIsSent(data) {
            fill("news", "update", data.payload)
            verify(form.send())
            compare(sent.count, 1)
            compare(sent.signalArguments[0][0], "news")
            compare(sent.signalArguments[0][1], "update")
            compare(sent.signalArguments[0][2], data.expected)
            compare(form.error, "")
            const label = errorLabel()
            verify(label.visible)
            verify(label.text.indexOf("Sent update to news") === 0, label.text)
        }

        function test_invalidJsonShowsTheError_data() {
            return [
                { tag: "unquoted key", payload: '{a: 1}' },
                { tag: "single quotes", payload: "{'a': 1}" },
                { tag: "missing value", payload: '{"a": }' },
                { tag: "unclosed array", payload: '[1, 2' },
                { tag: "trailing comma", payload: '{"a": 1,}' },
                { tag: "bare word", payload: 'hello' },
                { tag: "undefined", payload: 'undefined' },
                { tag: "two values", payload: '{} {}' },
            ]
        }

        function test_invalidJsonShowsTheError(data) {
            fill("news", "update", data.payload)
            verify(!form.send())
            compare(sent.count, 0)
            verify(form.error.indexOf("Payload is not valid JSON") === 0, form.error)
            const label = errorLabel()
            verify(label.visible)
            compare(label.text, form.error)
            // Editing the payload clears the error.
            form.payloadText = "{}"
            compare(form.error, "")
        }

        function test_emptyFieldsAreRejected_data() {
            return [
                { tag: "empty channel", channel: "", event: "e", payload: "{}", error: "Channel is required." },
                { tag: "blank channel", channel: "   ", event: "e", payload: "{}", error: "Channel is required." },
                { tag: "channel with a space", channel: "my news", event: "e", payload: "{}", error: "Channel names contain no spaces." },
                { tag: "empty event", channel: "news", event: "", payload: "{}", error: "Event is required." },
                { tag: "empty payload", channel: "news", event: "e", payload: "  ", error: "Payload is required (JSON, e.g. {} or null)." },
            ]
        }

        function test_emptyFieldsAreRejected(data) {
            fill(data.channel, data.event, data.payload)
            const result = form.validate()
            verify(!result.ok)
            compare(result.error, data.error)
            verify(!form.send())
            compare(sent.count, 0)
            compare(form.error, data.error)
            compare(errorLabel().text, data.error)
        }

        function test_notConnectedSendsNothing() {
            fill("news", "update", "{}")
            form.canSend = false
            verify(!form.send())
            compare(sent.count, 0)
            verify(form.error.indexOf("Not connected") === 0)
        }

        function test_keyboardOnly() {
            // Type into the fields and send with Ctrl+Return, without the mouse.
            form.channelField.forceActiveFocus()
            keySequence("n,e,w,s")
            keyClick(Qt.Key_Tab)
            keySequence("p,i,n,g")
            keyClick(Qt.Key_Tab)
            keyClick(Qt.Key_BracketLeft)
            keyClick(Qt.Key_1)
            keyClick(Qt.Key_BracketRight)
            compare(form.channelText, "news")
            compare(form.eventText, "ping")
            compare(form.payloadText, "[1]")
            keyClick(Qt.Key_Return, Qt.ControlModifier)
            compare(sent.count, 1)
            compare(sent.signalArguments[0][2], [1])
        }
    }
}
