import QtQuick

// A channel's messages, newest at the bottom: pass `channel.messages` as model.
ListView {
    id: root
    // Keeps the newest message in view unless the user scrolled up.
    property bool followTail: true
    /// Colour of the rows; follows the palette (inherited from the window) unless set.
    property color textColor: palette.windowText
    /// Font of the rows (default: the application font).
    property font font
    /// Smallest height of a row, e.g. a touch target's size where rows are tapped; 0 (default):
    /// the text's own height.
    property int rowHeight: 0

    /// Shows the newest row now when following the tail and the user is not dragging the view.
    function followTailNow() {
        if (followTail && !moving && count > 0)
            positionViewAtEnd()
    }

    implicitWidth: 300
    implicitHeight: 200
    clip: true
    delegate: Text {
        required property string event
        required property var payload
        required property var timestamp
        width: ListView.view.width
        height: Math.max(implicitHeight, root.rowHeight)
        verticalAlignment: Text.AlignVCenter
        elide: Text.ElideRight
        color: root.textColor
        font: root.font
        text: new Date(timestamp).toLocaleTimeString(Qt.locale(), "hh:mm:ss") + "  " + event + "  "
              + (typeof payload === "object" ? JSON.stringify(payload) : String(payload))
    }
    onCountChanged: followTailNow()
    // A bounded model at capacity removes as many rows as it inserts, so the count stays the
    // same: follow every insertion too, once per event-loop turn, after the view has the rows.
    Connections {
        target: root.model && typeof root.model === "object" && root.model.rowsInserted !== undefined
                ? root.model : null
        function onRowsInserted() { Qt.callLater(root.followTailNow) }
    }
}
