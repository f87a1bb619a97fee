use anchor_lang::prelude::*;
declare_id!("11111111111111111111111111111111");
