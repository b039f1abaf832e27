#pragma once
// PublicationCodec: a Publication as bytes in a Redis stream entry and in a pub/sub message.
//
// Stream entry / script argument ("body"): length-prefixed fields, binary-safe:
//     "1" <field>* where field = <decimal length> ':' <bytes>
// in the order: origin node, event, timestampMs, sender, exceptSession, flags (a digit: 1 binary + 2 compress), data.
// Version "2" (a publication with a reply token, Publication::replyTo) adds the token as an
// eighth field; without a token the body is written as version "1". Version "3" (a publication
// with a sender user, Publication::senderUserId: a Pusher client event on a presence channel)
// has the token field (empty when there is none) and the user as a ninth field. Each body is
// written with the lowest version that holds it, so nodes that know only "1" and "2" read
// everything but the publications that need "3" (docs/scaling.md "Mixing versions").
// Pub/sub message: "<offset>:<epoch>:" <body>  (the publish script adds the prefix; epoch is
// hex, empty for publications outside history).

#include <switchboard/Publication.h>

#include <string>
#include <string_view>

namespace switchboard::redis::detail {

std::string encodePublicationBody(const Publication &publication, std::string_view node);
/// Fills every field but `channel` and `offset`; `node` gets the origin node. False when malformed.
bool decodePublicationBody(std::string_view body, Publication &publication, std::string &node);
/// Splits a pub/sub message; false when malformed.
bool decodePubSubMessage(std::string_view message, Publication &publication, std::string &epoch, std::string &node);

} // namespace switchboard::redis::detail
