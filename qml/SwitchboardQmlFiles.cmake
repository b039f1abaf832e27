# The reusable components of the QML module `Switchboard` (built by qt/CMakeLists.txt on the
# Switchboard::Qt backing library). Each file keeps its own name inside the module.
set(SWITCHBOARD_QML_FILES
  ${CMAKE_CURRENT_LIST_DIR}/ConnectionIndicator.qml
  ${CMAKE_CURRENT_LIST_DIR}/PresenceList.qml
  ${CMAKE_CURRENT_LIST_DIR}/MessageList.qml)
foreach(file ${SWITCHBOARD_QML_FILES})
  get_filename_component(name ${file} NAME)
  set_source_files_properties(${file} PROPERTIES QT_RESOURCE_ALIAS ${name})
endforeach()
