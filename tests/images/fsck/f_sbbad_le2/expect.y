** ./case.img
BAD SUPER BLOCK: superblock at byte 65536: superblock geometry is invalid: fs_bsize 3 is not a power of two in 4096..=65536

LOOK FOR ALTERNATE SUPERBLOCKS? yes

USING ALTERNATE SUPERBLOCK AT 192
** Last Mounted on 
** Phase 1 - Check Blocks and Sizes
** Phase 2 - Check Pathnames
** Phase 3 - Check Connectivity
** Phase 4 - Check Reference Counts
** Phase 5 - Check Cyl groups
SUMMARY BLK COUNT(S) WRONG IN SUPERBLK
SALVAGE? yes

16 files, 441 used, 430 free (38 frags, 49 blocks, 4.4% fragmentation)

UPDATE STANDARD SUPERBLOCK? yes


***** FILE SYSTEM IS CLEAN *****

***** FILE SYSTEM WAS MODIFIED *****
Exit status is 1
