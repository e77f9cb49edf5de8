** ./case.img
Superblock check-hash failed: recorded check-hash 0x486ed67a != computed check-hash 0x343d0849
CORRECT CHECK HASH? yes

** Last Mounted on /tmp/tmp.DXTWjZpta5
** Phase 1 - Check Blocks and Sizes
** Phase 2 - Check Pathnames
** Phase 3 - Check Connectivity
** Phase 4 - Check Reference Counts
** Phase 5 - Check Cyl groups
16 files, 441 used, 430 free (38 frags, 49 blocks, 4.4% fragmentation)

***** FILE SYSTEM IS CLEAN *****

***** FILE SYSTEM WAS MODIFIED *****
Exit status is 1
