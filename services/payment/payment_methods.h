/*  Payment methods (Strategy): one interface, one file per method under
    methods/, and one registry table in payment_methods.c. Adding a method
    is a new file and one line in that table.
*/
#ifndef PAYMENT_METHODS_H
#define PAYMENT_METHODS_H

#include "oms_service.h"

//  What a method is asked to charge or refund.
typedef struct {
    const char *order_id;
    const char *customer;
    const char *card_last4; //  "" unless the order gave a card
    int64_t amount_cents;
} payment_charge_t;

typedef enum { PAYMENT_APPROVED = 0, PAYMENT_DECLINED = 1 } payment_outcome_t;

typedef struct {
    const char *name;
    //  Charges the amount: PAYMENT_APPROVED, or PAYMENT_DECLINED with `reason`
    //  written; a negative oms_error_t when it could not decide (the event
    //  then goes to the dead-letter log). Runs inside the handler's
    //  transaction, so a method that keeps state (wallet) commits with it.
    int (*charge) (oms_ctx_t *ctx, const payment_charge_t *charge, char *reason, size_t size);
    //  Gives back a charge that was approved: 0 or a negative oms_error_t.
    int (*refund) (oms_ctx_t *ctx, const payment_charge_t *charge);
} payment_method_t;

//  A refund with nothing to do in payment's own store: the card acquirer,
//  the bank or the courier settles it outside.
int payment_refund_elsewhere (oms_ctx_t *ctx, const payment_charge_t *charge);

//  Every method, NULL-terminated: one for each of oms_payment_methods.
extern const payment_method_t *const payment_methods[];

//  The method called `name`, or NULL.
const payment_method_t *payment_method (const char *name);

//  Wallet balances, kept by the wallet method and credited by operators.
int payment_wallet_balance (oms_ctx_t *ctx, const char *customer, int64_t *balance);
int payment_wallet_adjust (oms_ctx_t *ctx, const char *customer, int64_t delta, int64_t *balance);

#endif
