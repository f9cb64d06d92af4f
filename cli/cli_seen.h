/*  cli_seen: which events a subscriber of several brokers has already had.

    With broker/count above one, each event reaches a subscriber once per
    live broker. An event is named by its topic, its producer's epoch and
    its seq; for each topic this keeps the highest seq seen and which of the
    CLI_SEEN_WINDOW seqs below it were seen, so a copy arriving from a
    slower broker is recognised however the copies interleave. A seq older
    than the window counts as seen: on one path seqs only go up, so only a
    copy can be that late. A new epoch starts the topic afresh.
*/
#ifndef CLI_SEEN_H
#define CLI_SEEN_H

#include "oms_proto.h"
#include <stdbool.h>
#include <stdint.h>

#define CLI_SEEN_WINDOW 64
#define CLI_SEEN_TOPICS 64

typedef struct {
    char topic[OMS_NAME_MAX + 1];
    uint64_t epoch;
    uint64_t high;      //  the highest seq seen
    uint64_t mask;      //  bit i: high - i was seen
    uint64_t last_used; //  for replacing the least recently used topic
} cli_seen_topic_t;

typedef struct {
    cli_seen_topic_t topics[CLI_SEEN_TOPICS];
    size_t count;
    uint64_t clock;
} cli_seen_t;

//  Whether (topic, epoch, seq) is seen here for the first time; records it.
//  When every slot is taken the least recently used topic is forgotten.
bool cli_seen_first (cli_seen_t *self, const char *topic, uint64_t epoch, uint64_t seq);

#endif
