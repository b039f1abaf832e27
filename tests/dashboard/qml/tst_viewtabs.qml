import QtQuick
import QtTest
import SwitchboardDashboard

// The narrow layout's tabs: themed like the panels and 40 px touch targets.
Item {
    id: root
    width: 520
    height: 200

    ViewTabs {
        id: tabs
        width: parent.width
        titles: ["Stream (Ctrl+1)", "Chart (Ctrl+2)", "Publish (Ctrl+3)"]
    }

    TestCase {
        name: "ViewTabs"
        when: windowShown

        function tab(i) { return findChild(tabs, "tab_" + i) }

        function test_touchTargets() {
            compare(tabs.count, 3)
            verify(tabs.height >= Theme.touchTarget)
            for (var i = 0; i < 3; ++i) {
                verify(tab(i).height >= Theme.touchTarget, "tab " + i + " height " + tab(i).height)
                verify(tab(i).width >= Theme.touchTarget, "tab " + i + " width " + tab(i).width)
            }
        }

        function test_currentTabIsMarked_data() {
            return [ { tag: "stream", index: 0 }, { tag: "chart", index: 1 }, { tag: "publish", index: 2 } ]
        }

        function test_currentTabIsMarked(data) {
            tabs.currentIndex = data.index
            for (var i = 0; i < 3; ++i) {
                var current = i === data.index
                var label = findChild(tab(i), "tabLabel")
                compare(Qt.colorEqual(label.color, current ? Theme.accent : Theme.dim), true, "tab " + i)
                compare(label.font.pixelSize, Theme.fontSize)
                compare(findChild(tab(i), "tabUnderline").visible, current)
                compare(Qt.colorEqual(findChild(tab(i), "tabBackground").color, current ? Theme.selection : "transparent"), true)
            }
            // The bar is drawn like the panels, not in the style's default grey.
            compare(Qt.colorEqual(tabs.background.color, Theme.panel), true)
        }

        function test_clickSelects() {
            tabs.currentIndex = 0
            mouseClick(tab(2))
            compare(tabs.currentIndex, 2)
        }
    }
}
