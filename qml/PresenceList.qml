import QtQuick

// The members of a presence channel: pass `channel.presence` as model.
ListView {
    id: root
    property string emptyText: "nobody here"
    /// Colour of the rows; follows the palette (inherited from the window) unless set.
    property color textColor: palette.windowText
    /// Colour of `emptyText` (default: textColor, half transparent).
    property color placeholderColor: Qt.rgba(textColor.r, textColor.g, textColor.b, 0.55)
    /// Font of the rows and of `emptyText` (default: the application font).
    property font font
    implicitWidth: 200
    implicitHeight: Math.max(contentHeight, 24)
    clip: true
    delegate: Text {
        required property string userId
        required property var info
        required property int connections
        width: ListView.view.width
        color: root.textColor
        font: root.font
        text: userId + (info && info.name ? " (" + info.name + ")" : "")
    }
    Text {
        objectName: "emptyLabel"
        visible: root.count === 0
        text: root.emptyText
        color: root.placeholderColor
        font: root.font
    }
}
