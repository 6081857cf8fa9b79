#!/bin/sh
# layers.sh: the include rules of lib/ (docs/architecture.md). A file of lib/PART may include the
# headers of the parts PART may use; a method includes no other method's header; no header of lib/
# names a file of tools/ or bench/. Prints each breach and exits 1 if there is one.
cd "$(dirname "$0")/.." || exit 2
allowed() {   # the parts part $1 may include
    case $1 in
    base) echo base ;;
    core) echo base core ;;
    stream) echo base stream ;;
    readers) echo base core stream readers ;;
    train) echo base core stream train ;;
    methods) echo base core stream train methods ;;
    compose) echo base core stream train methods compose ;;
    tool) echo base core stream readers train methods compose tool ;;
    *) echo "layers.sh: unknown part $1" >&2; exit 2 ;;
    esac
}
part_of() {   # the part of header $1, or nothing
    for f in lib/*/"$1"; do [ -f "$f" ] && { basename "$(dirname "$f")"; return; }; done
}
bad=0
for f in lib/*/*.c lib/*/*.h; do
    part=$(basename "$(dirname "$f")")
    module=$(basename "$f" | sed 's/\.[ch]$//; s/_.*//')   # gan_net.c is part of module gan
    ok=$(allowed "$part")
    for h in $(sed -n 's/^#include "\(.*\)"$/\1/p' "$f"); do
        hp=$(part_of "$h")
        if [ -z "$hp" ]; then echo "$f: includes $h, which is not in lib/"; bad=1; continue; fi
        case " $ok " in *" $hp "*) ;; *) echo "$f: $part may not include $h ($hp)"; bad=1; continue ;; esac
        if [ "$part" = methods ] && [ "$hp" = methods ] && [ "${h%%_*}" != "$module.h" ] && [ "${h%%_*}" != "$module" ]; then
            echo "$f: a method includes another method's header ($h): what they share goes to core"; bad=1
        fi
    done
done
exit $bad
