import QtQuick
import QtTest
import Switchboard

// LatestValue: a gauge that shows the channel's newest value as soon as it subscribes, then
// follows every message; a field of the payload, an event name, a binary-encoding client.
Item {
    id: root
    width: 200; height: 200

    Gateway { id: gateway; statsInterval: 0; allowAnonymous: true }
    Client { id: panel }
    Client { id: binaryPanel; encoding: Client.Binary }

    // Bound like a gauge would be: the text follows the value.
    Text { id: gauge; text: temperature.valid ? "T=" + temperature.value : "no value" }
    LatestValue { id: temperature; channel: "sensors/room-1"; field: "reading.celsius"; event: "reading" }
    LatestValue { id: wholePayload; channel: "sensors/room-1" }
    LatestValue { id: binaryTemperature; client: binaryPanel; channel: "sensors/room-1"; field: "reading.celsius" }

    TestCase {
        name: "LatestValue"

        function test_latestValueOnSubscribe() {
            verify(gateway.start())
            // Published before any panel connects: a panel that subscribes later shows it at once.
            gateway.publish("sensors/room-1", "reading", { reading: { celsius: 20.5 } })
            gateway.publish("sensors/room-1", "reading", { reading: { celsius: 21.5 } })
            gateway.publish("sensors/room-1", "status", { ok: true })

            panel.url = gateway.url
            binaryPanel.url = gateway.url
            compare(gauge.text, "no value")
            temperature.client = panel
            wholePayload.client = panel
            verify(temperature.subscription !== null)
            compare(temperature.subscription, wholePayload.subscription) // the Client's one Channel
            panel.active = true
            binaryPanel.active = true

            // The newest publication is the status, which has no reading: the whole payload shows
            // it, the gauge has nothing of its event yet.
            tryCompare(wholePayload, "valid", true, 10000)
            compare(wholePayload.value.ok, true)
            compare(wholePayload.offset, 3)
            verify(wholePayload.time.getTime() > 0)
            compare(temperature.valid, false)
            tryCompare(binaryTemperature.subscription, "subscribed", true, 10000)
            compare(binaryTemperature.valid, false)

            gateway.publish("sensors/room-1", "reading", { reading: { celsius: 22 } })
            tryCompare(gauge, "text", "T=22", 10000)
            compare(temperature.offset, 4)
            tryCompare(binaryTemperature, "value", 22, 10000)
            compare(wholePayload.value.reading.celsius, 22)
        }

        function test_newestReadingShowsWithoutWaiting() {
            tryCompare(panel, "state", Client.Connected, 10000)
            gateway.publish("sensors/room-2", "reading", { reading: { celsius: 18 } })
            // A second gauge for another room, created after the publication.
            var component = Qt.createQmlObject(
                'import Switchboard; LatestValue { channel: "sensors/room-2"; field: "reading.celsius" }', root)
            component.client = panel
            tryCompare(component, "valid", true, 10000)
            compare(component.value, 18)
            compare(component.subscription.latestEvent, "reading")
            compare(component.subscription.latestOffset, 1)
            component.destroy()
        }
    }
}
