/* vedbus_items: the item table behind a vedbus service (private to vedbus.c and vedbus_items.c).
 *
 * - Items are kept sorted by path, so the leaves below a node are adjacent. A node is "/" or any
 *   path with a leaf below it; a leaf is never a node and no leaf lies below another leaf.
 * - An item's changed mark is set whenever its stored value really changes (and by
 *   vedbus_item_mark_changed); the service clears it when it has sent ItemsChanged.
 */
#ifndef LYNX_VEDBUS_ITEMS_H
#define LYNX_VEDBUS_ITEMS_H

#include <stdbool.h>
#include <stddef.h>

#include "venus/vedbus.h"

struct vedbus_item {
    char *path;
    enum vedbus_type declared;
    struct vedbus_value value; /* value.s is owned here */
    struct vedbus_item_options options;
    bool changed;
};

struct vedbus_table {
    struct vedbus_item **items; /* sorted by path */
    size_t count;
    size_t capacity;
};

/* vedbus_add_item's checks and errors; announce is the new item's changed mark. */
int vedbus_table_add(struct vedbus_table *table, const char *path,
                     const struct vedbus_value *initial, const struct vedbus_item_options *options,
                     bool announce, struct vedbus_item **out);
struct vedbus_item *vedbus_table_find(const struct vedbus_table *table, const char *path);
bool vedbus_table_is_node(const struct vedbus_table *table, const char *path);
/* Frees every item and the table's array. */
void vedbus_table_free(struct vedbus_table *table);

/* Length of the prefix to strip from item paths below node, or 0 if path is not below node. */
size_t vedbus_below_node(const char *path, const char *node);

/* Stores an already coerced value; returns 1 if it changed, 0 if equal, -ENOMEM. */
int vedbus_item_store(struct vedbus_item *item, const struct vedbus_value *value);

#endif
