#include "JsonVariant.h"

#include <switchboard/JsonParse.h>

#include <boost/json/value.hpp>

#include <QJSValue>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonValue>
#include <QVariantList>
#include <QVariantMap>

namespace switchboard::qt::detail {

QVariant toVariant(const boost::json::value &value)
{
    switch (value.kind()) {
    case boost::json::kind::null:
        return {};
    case boost::json::kind::bool_:
        return value.get_bool();
    case boost::json::kind::int64:
        return static_cast<qint64>(value.get_int64());
    case boost::json::kind::uint64:
        return static_cast<quint64>(value.get_uint64());
    case boost::json::kind::double_:
        return value.get_double();
    case boost::json::kind::string: {
        const auto &s = value.get_string();
        return toQString(std::string_view(s.data(), s.size()));
    }
    case boost::json::kind::array: {
        QVariantList list;
        const auto &array = value.get_array();
        list.reserve(static_cast<qsizetype>(array.size()));
        for (const auto &item : array)
            list.append(toVariant(item));
        return list;
    }
    case boost::json::kind::object: {
        QVariantMap map;
        for (const auto &member : value.get_object())
            map.insert(toQString(std::string_view(member.key().data(), member.key().size())), toVariant(member.value()));
        return map;
    }
    }
    return {};
}

QVariant jsonTextToVariant(std::string_view text)
{
    if (text.empty())
        return {};
    // parseJson(): each double as its sender wrote it (Boost.JSON's own conversion can be one unit
    // in the last place off), and the client's limits on depth and numbers.
    boost::json::value value;
    if (switchboard::parseJson(text, value, switchboard::JsonParseOptions{128}))
        return {};
    return toVariant(value);
}

std::string variantToJsonText(const QVariant &input)
{
    QVariant value = input;
    if (value.metaType() == QMetaType::fromType<QJSValue>())
        value = value.value<QJSValue>().toVariant();
    if (!value.isValid() || value.isNull())
        return "null";
    // QJsonDocument holds only arrays and objects: wrap scalars in an array and unwrap the text.
    const QByteArray text = QJsonDocument(QJsonArray{QJsonValue::fromVariant(value)}).toJson(QJsonDocument::Compact);
    return std::string(text.constData() + 1, static_cast<std::size_t>(text.size() - 2));
}

} // namespace switchboard::qt::detail
