/*
 * libmdnsd's <libmdnsd/1035.h> includes the config.h of the library's own
 * build, which Debian does not ship; nothing in it changes the declarations
 * fuzz_mdns.c uses (struct message, message_parse). Only fuzz_mdns.c sees
 * this folder.
 */
